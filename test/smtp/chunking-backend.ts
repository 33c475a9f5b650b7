// A minimal SMTP backend that implements CHUNKING (RFC 3030), which
// smtp-server does not: it accepts every command and every BDAT chunk, and
// records the content of each message once its LAST chunk has arrived.
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";

export interface ChunkingBackend {
  readonly port: number;
  /** The messages received whole, in order. */
  readonly messages: string[];
  close(): Promise<void>;
}

const BDAT = /^BDAT ([0-9]+)( LAST)?$/i;

export async function startChunkingBackend(): Promise<ChunkingBackend> {
  const messages: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.write("220 chunking.test ESMTP\r\n");
    let pending = Buffer.alloc(0);
    let message = "";
    /** Bytes of the current chunk still to come, and whether it is the last. */
    let chunk: { left: number; last: boolean } | undefined;
    socket.on("data", (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      for (;;) {
        if (chunk) {
          if (pending.length < chunk.left) return;
          message += pending.toString("latin1", 0, chunk.left);
          pending = pending.subarray(chunk.left);
          if (chunk.last) {
            messages.push(message);
            message = "";
          }
          socket.write(`250 2.0.0 ${chunk.last ? "queued" : "chunk accepted"}\r\n`);
          chunk = undefined;
          continue;
        }
        const end = pending.indexOf("\r\n");
        if (end < 0) return;
        const line = pending.toString("latin1", 0, end);
        pending = pending.subarray(end + 2);
        const bdat = BDAT.exec(line);
        if (bdat) chunk = { left: Number(bdat[1]), last: bdat[2] !== undefined };
        else if (/^EHLO /i.test(line)) socket.write("250-chunking.test\r\n250 CHUNKING\r\n");
        else if (/^QUIT$/i.test(line)) socket.end("221 2.0.0 bye\r\n");
        else socket.write("250 2.0.0 OK\r\n");
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}
