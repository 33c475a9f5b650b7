// Protocol details at the byte level: 3.2 startups negotiated down by a 3.0
// server, the database defaulting to the user name, and long (3.2) cancel
// keys mapped both ways.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { test } from "node:test";
import {
  cancelPacket,
  errorCode,
  MAIN_SERVER,
  type Message,
  proxyForTests,
  rawExchange,
  rawSocket,
  readUntilReady,
  startProxy,
  startupMessage,
} from "./harness.ts";

const proxy = proxyForTests({ postgres: MAIN_SERVER });

async function startSession(
  port: number,
  startup: Buffer,
): Promise<{ socket: Socket; messages: Message[] }> {
  const socket = rawSocket(port);
  await once(socket, "connect");
  socket.write(startup);
  return { socket, messages: await readUntilReady(socket) };
}

test("a 3.2 startup reaches a 3.0 server, which negotiates the version down", async () => {
  const { socket, messages } = await startSession(
    proxy.port,
    startupMessage({ user: "postgres", database: "postgres" }, 2),
  );
  socket.destroy();
  const types = messages.map((m) => m.type);
  assert.equal(types[0], "v", "NegotiateProtocolVersion passes through");
  assert.equal(messages[0]!.body.readInt32BE(0), 3 << 16, "the server offers 3.0");
  const key = messages.find((m) => m.type === "K");
  assert.equal(key?.body.length, 8, "a 3.0 key is four bytes");
  assert.equal(types.at(-1), "Z");
});

test("without a database the user name routes, as the server's default", async () => {
  const { socket, messages } = await startSession(proxy.port, startupMessage({ user: "postgres" }));
  socket.destroy();
  assert.equal(messages.at(-1)?.type, "Z");
});

/**
 * A stand-in server that answers each connection's first packet with
 * `answer(packet)` and keeps the connection open; it records nothing else.
 */
async function fakeServer(answer: (first: Buffer, socket: Socket) => void) {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", (first: Buffer) => answer(first, socket));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const proxy = await startProxy({ fake: `127.0.0.1:${(server.address() as AddressInfo).port}` });
  return {
    port: proxy.port,
    async close() {
      await proxy.close();
      server.close();
    },
  };
}

test("a long 3.2 cancel key is replaced by one as long and mapped back", async () => {
  // No PostgreSQL here issues 3.2 keys (18+ does): a minimal server stands in.
  const backendKey = Buffer.alloc(32, 0xab);
  const cancels: Buffer[] = [];
  const fake = await fakeServer((first, socket) => {
    if (first.readInt32BE(4) === 80877102) {
      cancels.push(first);
      socket.end();
      return;
    }
    const key = Buffer.alloc(9 + backendKey.length);
    key.write("K", 0, "latin1");
    key.writeInt32BE(8 + backendKey.length, 1);
    key.writeInt32BE(777, 5);
    backendKey.copy(key, 9);
    socket.write(
      Buffer.concat([
        Buffer.from("R\0\0\0\x08\0\0\0\0", "latin1"),
        key,
        Buffer.from("Z\0\0\0\x05I", "latin1"),
      ]),
    );
  });
  try {
    const { socket, messages } = await startSession(
      fake.port,
      startupMessage({ user: "u", database: "fake" }, 2),
    );
    const key = messages.find((m) => m.type === "K")!;
    assert.equal(key.body.readInt32BE(0), 777);
    const clientKey = key.body.subarray(4);
    assert.equal(clientKey.length, 32);
    assert.notDeepEqual(clientKey, backendKey);
    const canceller = rawSocket(fake.port);
    canceller.end(cancelPacket(777, clientKey));
    canceller.resume();
    await once(canceller, "close");
    assert.equal(cancels.length, 1);
    assert.equal(cancels[0]!.readInt32BE(8), 777);
    assert.deepEqual(cancels[0]!.subarray(12), backendKey);
    socket.destroy();
  } finally {
    await fake.close();
  }
});

test("a server that breaks the protocol during startup gets the client a 08P01", async () => {
  // A message claiming a length of 1, which no message can have.
  const fake = await fakeServer((_first, socket) => socket.write(Buffer.from([0x52, 0, 0, 0, 1])));
  try {
    const answer = await rawExchange(fake.port, startupMessage({ user: "u", database: "fake" }));
    assert.equal(errorCode(answer), "08P01");
    assert.match(answer.toString("latin1"), /the server sent an invalid message during startup/);
  } finally {
    await fake.close();
  }
});
