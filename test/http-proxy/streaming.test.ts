import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { Client } from "undici";
import { WebSocket, WebSocketServer } from "ws";
import type { Resolver, Result } from "../../src/proxy/core/index.ts";
import { rawExchange, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("a large body streams both ways with bounded proxy memory", async () => {
  const backend = await startBackend((req, res) => req.pipe(res));
  cleanups.push(() => backend.close());
  const running = await startProxy({ "echo.test": backend.endpoint });
  cleanups.push(() => running.close());
  const client = new Client(running.url);
  cleanups.push(() => client.close());

  // Large enough that holding it stands well clear of the garbage three
  // Node hops leave behind before a collection (about 110-140 MiB of RSS here).
  const total = 512 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 97);
  async function* upload() {
    for (; uploaded < total; uploaded += chunk.length) yield chunk;
  }
  const baseline = process.memoryUsage().rss;
  let peak = 0;
  let uploaded = 0;
  let uploadedAtFirstByte = -1;
  const response = await client.request({
    path: "/",
    method: "POST",
    headers: { host: "echo.test", "content-length": String(total) },
    body: Readable.from(upload()),
  });
  let received = 0;
  for await (const part of response.body) {
    if (uploadedAtFirstByte < 0) uploadedAtFirstByte = uploaded;
    received += (part as Buffer).length;
    peak = Math.max(peak, process.memoryUsage().rss - baseline);
  }
  assert.equal(received, total);
  // The echo started long before the upload ended: nothing waited for a whole body.
  assert.ok(uploadedAtFirstByte < total / 4, `first byte back after ${uploadedAtFirstByte} sent`);
  // Holding the body anywhere would take 512 MiB more; garbage may lag behind.
  assert.ok(peak < total / 2, `rss grew by ${(peak / 1048576).toFixed(1)} MiB`);
});

test("WebSocket messages echo through the proxy", async () => {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  wss.on("connection", (socket, req) => {
    socket.send(`hello ${req.headers["x-forwarded-for"]} via ${req.headers.via}`);
    socket.on("message", (data, binary) => socket.send(data, { binary }));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => {
    wss.close();
    server.close();
  });
  const running = await startProxy({
    "ws.test": `127.0.0.1:${(server.address() as { port: number }).port}`,
  });
  cleanups.push(() => running.close());

  const ws = new WebSocket(`ws://127.0.0.1:${running.port}/chat`, { headers: { host: "ws.test" } });
  const messages: string[] = [];
  const next = () =>
    new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
  let incoming = next();
  await once(ws, "open");
  messages.push(await incoming);
  for (const text of ["one", "two", "x".repeat(200_000)]) {
    incoming = next();
    ws.send(text);
    messages.push(await incoming);
  }
  ws.close();
  await once(ws, "close");
  assert.equal(messages[0], "hello 127.0.0.1 via 1.1 nexus");
  assert.deepEqual(messages.slice(1), ["one", "two", "x".repeat(200_000)]);
});

test("a WebSocket to an unknown host is refused with 404", async () => {
  const running = await startProxy({});
  cleanups.push(() => running.close());
  const ws = new WebSocket(`ws://127.0.0.1:${running.port}/`, { headers: { host: "nope.test" } });
  ws.on("error", () => {});
  const [, response] = (await once(ws, "unexpected-response")) as [unknown, { statusCode: number }];
  assert.equal(response.statusCode, 404);
  ws.terminate();
});

test("a request that waited for a sleeping backend says so in a header", async () => {
  let awake = false;
  let wakes = 0;
  const backend = await startBackend((_req, res) => res.end("awake"));
  cleanups.push(() => backend.close());
  const resolver: Resolver = {
    resolve(): Result {
      return awake ? { endpoint: backend.endpoint } : { endpoint: backend.endpoint, asleep: true };
    },
    wake() {
      wakes += 1;
      setTimeout(() => {
        awake = true;
      }, 300);
    },
  };
  const running = await startProxy(resolver);
  cleanups.push(() => running.close());
  const responses = await Promise.all(
    [1, 2, 3].map(() =>
      rawExchange(running.port, "GET / HTTP/1.1\r\nHost: cold.test\r\nConnection: close\r\n\r\n"),
    ),
  );
  for (const response of responses) {
    assert.equal(response.body, "awake");
    assert.match(response.head, /^x-nexus-cold-start-ms: [1-9]\d*$/im);
  }
  assert.equal(wakes, 1);
});
