import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { finished } from "node:stream/promises";
import { test } from "node:test";
import { relay } from "../../src/proxy/core/relay.ts";
import type { ResolveContext } from "../../src/proxy/core/resolver.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { echoBackend } from "./harness.ts";
import { listen, relayed } from "./relayed.ts";

const tcp: ResolveContext = { protocol: "tcp" };

/** Everything `socket` sends until it ends. */
async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

test("relay pipes a client and its backend both ways", async () => {
  const backend = await echoBackend();
  const router = loopbackRouter({ resolve: () => ({ endpoint: backend.endpoint }) });
  const received: Buffer[] = [];
  const client = new Duplex({
    read() {},
    write(chunk, _encoding, done) {
      received.push(chunk);
      if (Buffer.concat(received).length >= 5) this.destroy();
      done();
    },
  });
  try {
    const socket = await router.connect(await router.route("app", tcp), tcp);
    const totals = relay(client, socket);
    client.push("hello");
    const { toBackend } = await totals;
    assert.equal(Buffer.concat(received).toString(), "hello");
    assert.equal(toBackend, 5);
  } finally {
    await backend.close();
  }
});

test("a backend that sends and closes at once: the client still gets every byte", async () => {
  const payload = Buffer.alloc(256 << 10, "x");
  const backend = createServer((socket) => socket.end(payload));
  const port = await listen(backend);
  // A client that accepts one chunk and then holds its writes until released:
  // when the backend closes, most of the payload is still queued towards it.
  const received: Buffer[] = [];
  const held: (() => void)[] = [];
  let holding = true;
  const client = new Duplex({
    writableHighWaterMark: 1 << 20,
    read() {},
    write(chunk: Buffer, _encoding, done) {
      received.push(chunk);
      if (holding) held.push(done);
      else done();
    },
  });
  try {
    const socket = connect({ host: "127.0.0.1", port });
    const totals = relay(client, socket);
    await once(socket, "close");
    holding = false;
    for (const done of held) done();
    await finished(client, { readable: false });
    assert.equal(Buffer.concat(received).length, payload.length);
    client.destroy();
    assert.deepEqual(await totals, { toClient: payload.length, toBackend: 0, mover: "process" });
  } finally {
    backend.close();
  }
});

test("half-close: a client that ends its side still gets the backend's answer", async () => {
  await using pair = await relayed(
    (socket) => {
      let length = 0;
      socket.on("data", (chunk: Buffer) => {
        length += chunk.length;
      });
      socket.on("end", () => socket.end(`got ${length} bytes`));
    },
    { halfOpen: true },
  );
  pair.client.end("twelve bytes");
  assert.equal((await readAll(pair.client)).toString(), "got 12 bytes");
  assert.deepEqual(await pair.totals, { toClient: 12, toBackend: 12, mover: "process" });
});

test("bytes towards the backend pass through the optional rewriter, which may hold some back", async () => {
  // Hands on whole lines only, upper-cased.
  let held = "";
  const upperLines = (chunk: Buffer): Buffer => {
    const text = held + chunk.toString();
    const cut = text.lastIndexOf("\n") + 1;
    held = text.slice(cut);
    return Buffer.from(text.slice(0, cut).toUpperCase());
  };
  await using pair = await relayed((socket) => socket.pipe(socket), {
    rewriteToBackend: upperLines,
    halfOpen: true,
  });
  pair.client.write("sel");
  pair.client.write("ect 1\nsel");
  pair.client.end("ect 2\ntail");
  assert.equal((await readAll(pair.client)).toString(), "SELECT 1\nSELECT 2\n");
  assert.deepEqual(await pair.totals, { toClient: 18, toBackend: 18, mover: "process" });
});

test("a rewriter that throws ends the relay like a socket error", async () => {
  await using pair = await relayed(() => {}, {
    rewriteToBackend: () => {
      throw new Error("unreadable command");
    },
  });
  const { backend } = await pair.proxied;
  pair.client.write("anything");
  await Promise.all([once(pair.client, "close"), once(backend, "close")]);
  assert.deepEqual(await pair.totals, { toClient: 0, toBackend: 0, mover: "process" });
});

test("an error on one side destroys the other; a second error is handled too", async () => {
  await using pair = await relayed(() => {});
  const { client, backend } = await pair.proxied;
  if (backend.connecting) await once(backend, "connect");
  const clientClosed = once(pair.client, "close");
  client.emit("error", new Error("first"));
  client.emit("error", new Error("second"));
  backend.emit("error", new Error("third"));
  await pair.totals;
  await clientClosed;
  assert.ok(client.destroyed && backend.destroyed);
});

test("a backend reset closes the client", async () => {
  await using pair = await relayed((socket) => socket.resetAndDestroy());
  await Promise.all([once(pair.client, "close"), pair.totals]);
  const { client, backend } = await pair.proxied;
  assert.ok(client.destroyed && backend.destroyed);
});

test("once one direction has finished, the other is destroyed after the grace period", async () => {
  // The backend never ends its side; the client has ended its own.
  await using pair = await relayed(() => {}, { halfOpen: true, graceMs: 50 });
  pair.client.end();
  const { client, backend } = await pair.proxied;
  await pair.totals;
  assert.ok(client.destroyed && backend.destroyed);
});

test("a client that goes away ends the backend gracefully", async () => {
  const ended = Promise.withResolvers<void>();
  await using pair = await relayed((socket) => {
    socket.resume();
    socket.on("end", () => ended.resolve());
  });
  pair.client.destroy();
  await ended.promise;
  await pair.totals;
});

test("a relay started on a client that is already closed ends the backend and resolves", async () => {
  const backend = await echoBackend();
  const client = new Duplex({ read() {}, write: (_chunk, _encoding, done) => done() });
  client.destroy();
  await once(client, "close");
  try {
    const socket = connect({ host: "127.0.0.1", port: backend.port });
    await once(socket, "connect");
    assert.deepEqual(await relay(client, socket), { toClient: 0, toBackend: 0, mover: "process" });
    assert.ok(socket.destroyed);
  } finally {
    await backend.close();
  }
});
