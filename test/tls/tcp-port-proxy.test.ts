import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { TcpPortProxy } from "../../src/proxy/tcp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { readAll } from "../support/read-all.ts";

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

test("a half-close passes through: each side still gets what the other sends after it", async () => {
  // Answers once the client has ended its side.
  const answersAtEnd = await startHalfOpenBackend((socket) => {
    void readAll(socket).then((request) => socket.end(request.toUpperCase()));
  });
  // Says goodbye first, then still takes what the client sends.
  let received: Promise<string> | undefined;
  const closesFirst = await startHalfOpenBackend((socket) => {
    socket.end("bye");
    received = readAll(socket);
  });
  const halfClose = new TcpPortProxy({
    router: loopbackRouter({
      "answers-at-end": `127.0.0.1:${(answersAtEnd.address() as AddressInfo).port}`,
      "closes-first": `127.0.0.1:${(closesFirst.address() as AddressInfo).port}`,
    }),
  });
  try {
    const answersPort = (await halfClose.listen(0, "127.0.0.1", "answers-at-end")).port;
    const client = connect({ host: "127.0.0.1", port: answersPort });
    client.end("hello");
    assert.equal(await readAll(client), "HELLO");

    const closesPort = (await halfClose.listen(0, "127.0.0.1", "closes-first")).port;
    const other = connect({ host: "127.0.0.1", port: closesPort, allowHalfOpen: true });
    assert.equal(await readAll(other), "bye");
    const closed = once(other, "close");
    other.end("sent after the backend's end");
    assert.equal(await received, "sent after the backend's end");
    await closed;
  } finally {
    await halfClose.close(0);
    answersAtEnd.close();
    closesFirst.close();
  }
});

async function startHalfOpenBackend(onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}
