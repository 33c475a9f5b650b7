import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { Client } from "undici";
import {
  BackendRouter,
  type Resolver,
  ResolverError,
  StaticResolver,
} from "../../src/proxy/core/index.ts";
import { freePort } from "../support/ports.ts";
import { parseRaw, rawExchange, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function proxyFor(routes: Parameters<typeof startProxy>[0], options = {}) {
  const running = await startProxy(routes, options);
  cleanups.push(() => running.close());
  return running;
}

function get(port: number, host: string): Promise<ReturnType<typeof parseRaw>> {
  return rawExchange(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

test("resolver errors map to 404, 403, 503 with Retry-After, 504 and 502", async () => {
  const resolver: Resolver = {
    resolve(key) {
      switch (key) {
        case "forbidden.test":
          throw new ResolverError("FORBIDDEN", "no");
        case "unavailable.test":
          throw new ResolverError("UNAVAILABLE", "down", { retryAfterMs: 4200 });
        case "timeout.test":
          throw new ResolverError("TIMEOUT", "slow");
        case "broken.test":
          throw new Error("resolver bug with a secret inside");
        default:
          throw new ResolverError("NOT_FOUND", "none");
      }
    },
  };
  const { port } = await proxyFor(resolver);
  assert.equal((await get(port, "missing.test")).status, 404);
  assert.equal((await get(port, "forbidden.test")).status, 403);
  const unavailable = await get(port, "unavailable.test");
  assert.equal(unavailable.status, 503);
  assert.match(unavailable.head, /^retry-after: 5$/im);
  assert.equal((await get(port, "timeout.test")).status, 504);
  const broken = await get(port, "broken.test");
  assert.equal(broken.status, 502);
  assert.doesNotMatch(broken.body, /secret/);
});

test("a backend that refuses connections is 503 with Retry-After", async () => {
  // A free port is one nothing listens on: connecting to it is refused.
  const { port } = await proxyFor({ "down.test": `127.0.0.1:${await freePort()}` });
  const response = await get(port, "down.test");
  assert.equal(response.status, 503);
  assert.match(response.head, /^retry-after: \d+$/im);
});

test("a backend address the SSRF guard blocks is 403", async () => {
  const backend = await startBackend((_req, res) => res.end("secret"));
  cleanups.push(() => backend.close());
  const router = new BackendRouter({
    resolver: new StaticResolver({ "inner.test": backend.endpoint }),
  });
  const running = await startProxy({}, {}, router);
  cleanups.push(() => running.close());
  const response = await get(running.port, "inner.test");
  assert.equal(response.status, 403);
  assert.doesNotMatch(response.body, /secret/);
});

test("a backend that does not answer in time is 504", async () => {
  const held: Socket[] = [];
  const silent = createServer((socket) => held.push(socket));
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  cleanups.push(() => {
    for (const socket of held) socket.destroy();
    silent.close();
  });
  const { port } = await proxyFor(
    { "slow.test": `127.0.0.1:${(silent.address() as { port: number }).port}` },
    { limits: { backendResponseTimeoutMs: 300 } },
  );
  assert.equal((await get(port, "slow.test")).status, 504);
});

test("a backend that hangs up or sends garbage is 502", async () => {
  const rude = createServer((socket) => {
    socket.once("data", () => socket.end("NOT HTTP AT ALL\r\n\r\n"));
  });
  rude.listen(0, "127.0.0.1");
  await once(rude, "listening");
  cleanups.push(() => void rude.close());
  const hangup = await startBackend((req) => req.socket.destroy());
  cleanups.push(() => hangup.close());
  const { port } = await proxyFor({
    "garbage.test": `127.0.0.1:${(rude.address() as { port: number }).port}`,
    "hangup.test": hangup.endpoint,
  });
  assert.equal((await get(port, "garbage.test")).status, 502);
  assert.equal((await get(port, "hangup.test")).status, 502);
});

test("a body over the limit is 413, declared or chunked, and the backend never answers it", async () => {
  let answered = 0;
  const backend = await startBackend(async (req, res) => {
    try {
      for await (const _chunk of req);
    } catch {
      return; // the proxy gave the upload up at the limit
    }
    answered += 1;
    res.end("stored");
  });
  cleanups.push(() => backend.close());
  const { port, url } = await proxyFor(
    { "upload.test": backend.endpoint },
    { limits: { maxBodyBytes: 1000 } },
  );
  const declared = await rawExchange(
    port,
    `POST / HTTP/1.1\r\nHost: upload.test\r\nContent-Length: 5000\r\n\r\n${"x".repeat(5000)}`,
  );
  assert.equal(declared.status, 413);

  const client = new Client(url);
  cleanups.push(() => client.destroy());
  const small = await client.request({
    path: "/",
    method: "POST",
    headers: { host: "upload.test" },
    body: "x".repeat(999),
  });
  assert.equal(await small.body.text(), "stored");
  async function* chunks() {
    for (let i = 0; i < 10; i++) yield Buffer.alloc(500, 120);
  }
  const chunked = await client.request({
    path: "/",
    method: "POST",
    headers: { host: "upload.test" },
    body: Readable.from(chunks()),
  });
  assert.equal(chunked.statusCode, 413);
  await chunked.body.text();
  assert.equal(answered, 1);
});

test("a request head over the limit is 431", async () => {
  const { port } = await proxyFor(
    { "a.test": "127.0.0.1:9" },
    { limits: { maxHeaderBytes: 1024 } },
  );
  const response = await rawExchange(
    port,
    `GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: ${"y".repeat(4000)}\r\n\r\n`,
  );
  assert.equal(response.status, 431);
});

test("a client that sends its head too slowly (slowloris) gets 408", async () => {
  const { port } = await proxyFor(
    { "a.test": "127.0.0.1:9" },
    { limits: { headersTimeoutMs: 300 } },
  );
  const socket = connect(port, "127.0.0.1");
  socket.write("GET / HTTP/1.1\r\nHost: a.test\r\n");
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "close");
  assert.equal(parseRaw(Buffer.concat(chunks).toString()).status, 408);
});

test("connections past the limit get 503 while the others keep working", async () => {
  const backend = await startBackend((_req, res) => res.end("ok"));
  cleanups.push(() => backend.close());
  const { port, url } = await proxyFor(
    { "a.test": backend.endpoint },
    { limits: { maxConnections: 1 } },
  );
  const holder = new Client(url);
  cleanups.push(() => holder.destroy());
  const first = await holder.request({ path: "/", method: "GET", headers: { host: "a.test" } });
  assert.equal(await first.body.text(), "ok");
  const refused = await get(port, "a.test");
  assert.equal(refused.status, 503);
  assert.match(refused.body, /too many connections/);
  const again = await holder.request({ path: "/", method: "GET", headers: { host: "a.test" } });
  assert.equal(await again.body.text(), "ok");
});
