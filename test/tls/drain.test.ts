// Closing a proxy drains it: it stops accepting at once, lets open
// connections finish, and destroys whatever is still open at the deadline.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { TcpPortProxy } from "../../src/proxy/tcp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";

let echo: Server;

before(async () => {
  echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, "127.0.0.1");
  await once(echo, "listening");
});

after(() => echo.close());

function proxyToEcho(): TcpPortProxy {
  const port = (echo.address() as AddressInfo).port;
  return new TcpPortProxy({ router: loopbackRouter({ echo: `127.0.0.1:${port}` }) });
}

async function connected(port: number): Promise<Socket> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  await once(socket, "connect");
  return socket;
}

/** Writes `text` and resolves with the same number of bytes read back. */
async function roundTrip(socket: Socket, text: string): Promise<string> {
  socket.write(text);
  let received = "";
  while (received.length < text.length) {
    const [chunk] = (await once(socket, "data")) as [Buffer];
    received += chunk.toString();
  }
  return received;
}

test("an open connection keeps working after close() until it ends", async () => {
  const proxy = proxyToEcho();
  const { port } = await proxy.listen(0, "127.0.0.1", "echo");
  const client = await connected(port);
  assert.equal(await roundTrip(client, "before"), "before");
  let closed = false;
  const closing = proxy.close(60_000).then(() => {
    closed = true;
  });
  await assert.rejects(connected(port), { code: "ECONNREFUSED" });
  assert.equal(await roundTrip(client, "during the drain"), "during the drain");
  assert.equal(closed, false);
  client.end();
  await closing;
});

test("connections still open at the drain deadline are closed", async () => {
  const proxy = proxyToEcho();
  const { port } = await proxy.listen(0, "127.0.0.1", "echo");
  const client = await connected(port);
  assert.equal(await roundTrip(client, "idle from now on"), "idle from now on");
  const clientClosed = once(client, "close");
  await proxy.close(100);
  await clientClosed;
});
