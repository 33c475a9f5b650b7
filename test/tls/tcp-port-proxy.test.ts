import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server } from "node:net";
import { after, before, test } from "node:test";
import { TcpPortProxy } from "../../src/proxy/tcp/index.ts";
import { loopbackRouter } from "./loopback-router.ts";

/** A backend that greets with its name, then echoes. */
async function startBackend(name: string): Promise<Server> {
  const server = createServer((socket) => {
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

/**
 * Sends `text` and returns what comes back once `expected` bytes have arrived
 * or the proxy closed the connection.
 */
async function exchange(port: number, text: string, expected: number): Promise<string> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.write(text);
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString();
    if (received.length >= expected) socket.destroy();
  });
  await once(socket, "close");
  return received;
}

let echoA: Server;
let echoB: Server;
let proxy: TcpPortProxy;

before(async () => {
  echoA = await startBackend("a");
  echoB = await startBackend("b");
  const router = loopbackRouter({
    "echo-a": `127.0.0.1:${(echoA.address() as AddressInfo).port}`,
    "echo-b": `127.0.0.1:${(echoB.address() as AddressInfo).port}`,
  });
  proxy = new TcpPortProxy({ router });
});

after(async () => {
  await proxy.close();
  echoA.close();
  echoB.close();
});

test("each listening port reaches its own backend, bytes both ways", async () => {
  const portA = (await proxy.listen(0, "127.0.0.1", "echo-a")).port;
  const portB = (await proxy.listen(0, "127.0.0.1", "echo-b")).port;
  // Sent before the backend is connected: held, then relayed in order.
  assert.equal(await exchange(portA, "hello", 7), "a\nhello");
  assert.equal(await exchange(portB, "x".repeat(100_000), 100_002), `b\n${"x".repeat(100_000)}`);
});

test("without a key the port number routes; an unknown one is closed", async () => {
  const { port } = await proxy.listen(0, "127.0.0.1");
  // StaticResolver knows no route named after this port.
  assert.equal(await exchange(port, "anyone?", 1), "");
  const portA = (await proxy.listen(0, "127.0.0.1", "echo-a")).port;
  assert.equal(await exchange(portA, "still serving", 15), "a\nstill serving");
});
