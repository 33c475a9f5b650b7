// Real ClientHellos for tests: node:tls connects to a plain TCP server that
// keeps the first record it receives and hangs up.
import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";
import { type ConnectionOptions, connect } from "node:tls";

export async function recordClientHello(options: ConnectionOptions): Promise<Buffer> {
  let resolveHello: (hello: Buffer) => void = () => {};
  const captured = new Promise<Buffer>((resolve) => {
    resolveHello = resolve;
  });
  const server = createServer((socket) => {
    let bytes = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
      if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
        resolveHello(bytes.subarray(0, 5 + bytes.readUInt16BE(3)));
        socket.destroy();
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const client = connect({ host: "127.0.0.1", port, ...options });
  client.on("error", () => {});
  try {
    return await captured;
  } finally {
    client.destroy();
    server.close();
  }
}
