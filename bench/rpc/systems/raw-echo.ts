// The limit: a bare Node Unix-socket server that echoes length-prefixed
// frames (4-byte big-endian length, then the bytes) back unchanged, and a
// client that sends JSON.stringify(REQUEST) in such frames and parses each
// echo. No routing, no auth, no ids (answers come back in order): the least
// work any RPC over a Unix socket can do.
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { type BenchSystem, REQUEST, type RunningServer } from "../system.ts";
import { InOrderConnection } from "./in-order-connection.ts";

const PREFIX_BYTES = 4;

/** Collects bytes and cuts them into whole frames. */
class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);

  /** Appends a chunk; returns the bytes of the whole frames now available (possibly none). */
  push(chunk: Buffer): Buffer {
    const bytes = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    let end = 0;
    while (end + PREFIX_BYTES <= bytes.length) {
      const next = end + PREFIX_BYTES + bytes.readUInt32BE(end);
      if (next > bytes.length) break;
      end = next;
    }
    this.#buffered = bytes.subarray(end);
    return bytes.subarray(0, end);
  }
}

function frame(payload: string): Buffer {
  const length = Buffer.byteLength(payload);
  const bytes = Buffer.allocUnsafe(PREFIX_BYTES + length);
  bytes.writeUInt32BE(length, 0);
  bytes.write(payload, PREFIX_BYTES);
  return bytes;
}

async function serve(dir: string): Promise<RunningServer> {
  const path = join(dir, "raw-echo.sock");
  const server = createServer((socket) => {
    const reader = new FrameReader();
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk);
      if (frames.length > 0) socket.write(frames);
    });
  });
  server.listen(path);
  await once(server, "listening");
  return {
    address: path,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export const rawEcho: BenchSystem = {
  name: "raw-echo",
  label: "raw Unix-socket echo (limit)",
  concurrency: "pipelined on one connection",
  expectedReply: REQUEST,
  serve,
  async connect(address) {
    const socket = connect(address);
    await once(socket, "connect");
    const connection = new InOrderConnection(socket, () => frame(JSON.stringify(REQUEST)));
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      const frames = reader.push(chunk);
      for (let offset = 0; offset < frames.length; ) {
        const end = offset + PREFIX_BYTES + frames.readUInt32BE(offset);
        connection.settleOldest(JSON.parse(frames.toString("utf8", offset + PREFIX_BYTES, end)));
        offset = end;
      }
    });
    return connection;
  },
};
