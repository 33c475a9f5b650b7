// Backend failures seen through the HTTP layer: a connect that never
// completes, a backend that answers garbage until its circuit breaker opens,
// and the metric of requests sent again after a stale keep-alive connection.
// Only the public API is used (HttpProxy, BackendRouter, metrics, sockets).
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Worker } from "node:worker_threads";
import { type Counter, Registry } from "prom-client";
import { request } from "undici";
import {
  BackendRouter,
  type BackendRouterOptions,
  LOOPBACK_RANGES,
  StaticResolver,
} from "../../src/proxy/core/index.ts";
import { HttpMetrics, type HttpProxyOptions } from "../../src/proxy/http/index.ts";
import { parseRaw, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function proxyOver(
  routes: Record<string, string>,
  routerOptions: Partial<BackendRouterOptions>,
  proxyOptions: Omit<HttpProxyOptions, "router"> = {},
) {
  const router = new BackendRouter({
    resolver: new StaticResolver(routes),
    ssrf: { allow: LOOPBACK_RANGES },
    ...routerOptions,
  });
  const running = await startProxy({}, proxyOptions, router);
  cleanups.push(() => running.close());
  return { ...running, router };
}

async function get(url: string, host: string) {
  const response = await request(`${url}/`, { headers: { host } });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text };
}

async function counted<T extends string>(
  counter: Counter<T>,
  labels: Partial<Record<T, string>>,
): Promise<number> {
  const { values } = await counter.get();
  const match = values.find((value) =>
    Object.entries(labels).every(([name, wanted]) => String(value.labels[name as T]) === wanted),
  );
  return match?.value ?? 0;
}

/** POSTs "helloworld", pausing `pauseMs` between its two halves; resolves with the answer. */
async function uploadWithPause(port: number, host: string, pauseMs: number) {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "connect");
  socket.write(
    `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello`,
  );
  await sleep(pauseMs);
  socket.write("world");
  await once(socket, "close");
  return parseRaw(Buffer.concat(chunks).toString("latin1"));
}

async function listen(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => void server.close());
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A loopback address whose TCP handshake never completes. A listener with
 * backlog 1 lives in a worker thread that blocks before it ever accepts; once
 * its accept queue is full, Linux drops further SYNs (tcp_abort_on_overflow
 * off, its default), so a connect waits for its SYN retransmissions. The
 * queue is filled until a connect hangs.
 */
async function unacceptingEndpoint(): Promise<string> {
  const release = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require("node:worker_threads");
     const server = require("node:net").createServer();
     server.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
       parentPort.postMessage(server.address().port);
       Atomics.wait(workerData, 0, 0);
       server.close();
     });`,
    { eval: true, workerData: release },
  );
  const [port] = (await once(worker, "message")) as [number];
  const queued: Socket[] = [];
  cleanups.push(async () => {
    for (const socket of queued) socket.destroy();
    Atomics.store(release, 0, 1);
    Atomics.notify(release, 0);
    await once(worker, "exit");
  });
  for (;;) {
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {});
    queued.push(socket);
    const connected = await Promise.race([
      once(socket, "connect").then(() => true),
      sleep(500).then(() => false),
    ]);
    if (!connected) return `127.0.0.1:${port}`;
    assert.ok(queued.length < 64, "the accept queue never filled");
  }
}

test("a backend that never accepts the connection is 504 after the router's connect timeout", async () => {
  const endpoint = await unacceptingEndpoint();
  const { url, proxy } = await proxyOver({ "stuck.test": endpoint }, { connectTimeoutMs: 300 });
  const started = performance.now();
  const response = await get(url, "stuck.test");
  const elapsed = performance.now() - started;
  assert.equal(response.status, 504);
  assert.doesNotMatch(response.text, /127\.0\.0\.1/);
  // The router's 300 ms, not its 5 s default nor the 30 s response timeout.
  assert.ok(elapsed >= 280 && elapsed < 3000, `answered after ${elapsed.toFixed(0)} ms`);
  const labels = { route: "stuck.test", backend: endpoint };
  assert.equal(await counted(proxy.metrics.errors, { ...labels, reason: "connect_timeout" }), 1);
  assert.equal(await counted(proxy.metrics.requests, { ...labels, status: "504" }), 1);
});

test("a backend answering garbage opens its breaker; a garbage probe reopens it for longer, a healthy one closes it", async () => {
  let healthy = false;
  let accepted = 0;
  // Not HTTP, and every connection closed after it: each request is on a fresh one.
  const backend = createServer((socket) => {
    accepted += 1;
    socket.on("error", () => {});
    const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    socket.once("data", () => socket.end(healthy ? ok : "NOT HTTP AT ALL\r\n\r\n"));
  });
  const endpoint = await listen(backend);
  const openMs = 500;
  // Each request connects successfully and then fails: the exchange, not the
  // connect, is what the breaker counts, so three in a row open it.
  const breaker = { consecutiveFailures: 3, minimumRequests: 1000, openMs };
  const { url, router, proxy } = await proxyOver({ "rude.test": endpoint }, { breaker });
  for (let i = 0; i < 3; i++) {
    assert.equal(router.breakerState(endpoint), "closed");
    assert.equal((await get(url, "rude.test")).status, 502);
  }
  assert.equal(accepted, 3);
  assert.equal(router.breakerState(endpoint), "open");

  const refused = await get(url, "rude.test");
  assert.equal(refused.status, 503);
  assert.match(String(refused.headers["retry-after"]), /^[1-9]\d*$/);
  assert.equal(accepted, 3, "an open breaker does not touch the backend");
  const labels = { route: "rude.test", backend: endpoint };
  assert.equal(await counted(proxy.metrics.errors, { ...labels, reason: "backend_error" }), 3);
  assert.equal(await counted(proxy.metrics.errors, { ...labels, reason: "breaker_open" }), 1);

  // The probe is judged by its answer: garbage reopens the breaker, for twice as long.
  await sleep(openMs + 50);
  assert.equal(router.breakerState(endpoint), "half_open");
  assert.equal((await get(url, "rude.test")).status, 502);
  assert.equal(accepted, 4, "the probe reached the backend");
  assert.equal(router.breakerState(endpoint), "open");
  await sleep(openMs + 50);
  assert.equal(router.breakerState(endpoint), "open", "the second opening lasts longer");

  healthy = true;
  await sleep(openMs);
  assert.equal(router.breakerState(endpoint), "half_open");
  assert.deepEqual((await get(url, "rude.test")).text, "ok");
  assert.equal(accepted, 5, "the probe reached the backend");
  assert.equal(router.breakerState(endpoint), "closed");
  assert.equal((await get(url, "rude.test")).status, 200);
});

test("nexus_http_retries_total counts requests sent again after a stale keep-alive connection", async () => {
  // Answers the first request of a connection, then closes the connection
  // unanswered when the next one arrives: a backend draining just as the
  // proxy reuses its idle connection.
  const methods: string[] = [];
  const served = new WeakSet<Socket>();
  const backend = await startBackend((req, res) => {
    methods.push(req.method ?? "");
    if (served.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    served.add(req.socket);
    res.end("ok");
  });
  cleanups.push(() => backend.close());
  const { endpoint } = backend;
  const registry = new Registry();
  const metrics = new HttpMetrics(registry);
  const { url } = await proxyOver({ "app.test": endpoint }, {}, { metrics });
  const retries = () => counted(metrics.retries, { route: "app.test", backend: endpoint });
  const send = async (method: string, body?: string) => {
    const response = await request(`${url}/`, { method, body, headers: { host: "app.test" } });
    await response.body.dump();
    return response.statusCode;
  };

  assert.equal(await send("GET"), 200);
  assert.equal(await retries(), 0, "a request on a fresh connection is sent once");
  assert.equal(await send("GET"), 200);
  assert.equal(await retries(), 1);
  assert.deepEqual(methods, ["GET", "GET", "GET"]);

  // A POST on a stale connection is not sent again, so it is no retry.
  assert.equal(await send("GET"), 200);
  assert.equal(await send("POST", "payload"), 502);
  assert.equal(await retries(), 1);
  assert.deepEqual(methods.slice(3), ["GET", "POST"]);

  assert.equal(await send("DELETE"), 200);
  assert.equal(await send("DELETE"), 200);
  assert.equal(await retries(), 2);
  const exposed = `nexus_http_retries_total{route="app.test",backend="${endpoint}"} 2`;
  assert.ok((await registry.metrics()).includes(exposed));
});

test("an open breaker fails fast even when an idle pooled connection could carry the request", async () => {
  const backend = await startBackend((_req, res) => res.end("ok"));
  cleanups.push(() => backend.close());
  const { url, router } = await proxyOver(
    { "pooled.test": backend.endpoint },
    { breaker: { consecutiveFailures: 2, openMs: 60_000 } },
  );
  assert.equal((await get(url, "pooled.test")).status, 200); // leaves an idle pooled connection
  const route = await router.route("pooled.test", { protocol: "http" });
  router.reportFailure(route);
  router.reportFailure(route);
  assert.equal(router.breakerState(backend.endpoint), "open");
  assert.equal((await get(url, "pooled.test")).status, 503);
});

test("half-open lets exactly one exchange through, pooled or not, until its answer", async () => {
  const held: (() => void)[] = [];
  const backend = await startBackend((_req, res) => {
    held.push(() => res.end("ok"));
  });
  cleanups.push(() => backend.close());
  const openMs = 200;
  const { url, router } = await proxyOver(
    { "probe.test": backend.endpoint },
    { breaker: { consecutiveFailures: 1, openMs, maxOpenMs: openMs } },
  );
  const first = get(url, "probe.test");
  while (held.length < 1) await sleep(10);
  held.shift()!();
  assert.equal((await first).status, 200); // leaves an idle pooled connection
  const route = await router.route("probe.test", { protocol: "http" });
  router.reportFailure(route);
  assert.equal(router.breakerState(backend.endpoint), "open");
  await sleep(openMs + 50);
  const probe = get(url, "probe.test");
  while (held.length < 1) await sleep(10);
  // The probe is in flight: another request is refused, though a pooled connection could carry it.
  const refused = await get(url, "probe.test");
  assert.equal(refused.status, 503);
  held.shift()!();
  assert.equal((await probe).status, 200);
  assert.equal(router.breakerState(backend.endpoint), "closed");
  const after = get(url, "probe.test");
  while (held.length < 1) await sleep(10);
  held.shift()!();
  assert.equal((await after).status, 200);
});

test("a half-open probe is judged by its response head, not by the end of a long body", async () => {
  let finishStream: () => void = () => {};
  const backend = await startBackend((req, res) => {
    if (req.url !== "/stream") {
      res.end("ok");
      return;
    }
    res.writeHead(200);
    res.write("first part");
    finishStream = () => res.end();
  });
  cleanups.push(() => backend.close());
  const openMs = 200;
  const { url, router } = await proxyOver(
    { "stream.test": backend.endpoint },
    { breaker: { consecutiveFailures: 1, openMs, maxOpenMs: openMs } },
  );
  const route = await router.route("stream.test", { protocol: "http" });
  router.reportFailure(route);
  await sleep(openMs + 50);
  // The probe's head arrives while its body is still streaming.
  const probe = await request(`${url}/stream`, { headers: { host: "stream.test" } });
  assert.equal(probe.statusCode, 200);
  assert.equal(router.breakerState(backend.endpoint), "closed");
  assert.equal((await get(url, "stream.test")).status, 200);
  finishStream();
  await probe.body.text();
});

test("a half-open probe whose fresh connection is closed unanswered does not leave the breaker stuck", async () => {
  let mode: "hang-up" | "healthy" = "hang-up";
  const backend = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => {
      if (mode === "hang-up") socket.destroy();
      else socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    });
  });
  const endpoint = await listen(backend);
  const openMs = 200;
  const breaker = { consecutiveFailures: 1, openMs, maxOpenMs: openMs };
  const { url, router } = await proxyOver({ "flaky.test": endpoint }, { breaker });
  assert.equal((await get(url, "flaky.test")).status, 502);
  assert.equal(router.breakerState(endpoint), "open");
  await sleep(openMs + 50);
  // The probe's connection is closed before any answer, and the GET is sent again.
  assert.notEqual((await get(url, "flaky.test")).status, 200);
  mode = "healthy";
  for (let attempt = 0; ; attempt++) {
    await sleep(openMs + 50);
    if ((await get(url, "flaky.test")).status === 200) break;
    assert.ok(attempt < 10, "the breaker lets a probe through again");
  }
  assert.equal(router.breakerState(endpoint), "closed");
});

test("a client that pauses its upload is not a backend timeout and does not feed the breaker", async () => {
  const backend = await startBackend(async (req, res) => {
    let length = 0;
    for await (const chunk of req) length += chunk.length;
    res.end(String(length));
  });
  cleanups.push(() => backend.close());
  const { port, router } = await proxyOver(
    { "upload.test": backend.endpoint },
    { breaker: { consecutiveFailures: 1 } },
    { limits: { backendResponseTimeoutMs: 300 } },
  );
  // Longer than the backend response timeout the proxy was given.
  const answer = await uploadWithPause(port, "upload.test", 600);
  assert.equal(answer.status, 200);
  assert.equal(answer.body, "10");
  assert.equal(router.breakerState(backend.endpoint), "closed");
});

test("a request that waits too long for a free pooled connection is 503, and the backend is not blamed", async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  // /hold answers at once, then streams its body until released: a long
  // response, not a silent backend.
  const backend = await startBackend(async (req, res) => {
    if (req.url === "/hold") {
      res.write("o");
      await held;
    }
    res.end("ok");
  });
  cleanups.push(() => backend.close());
  const { url, router } = await proxyOver(
    { "busy.test": backend.endpoint },
    { breaker: { consecutiveFailures: 1 } },
    { pool: { connections: 1 }, limits: { backendResponseTimeoutMs: 500 } },
  );
  const holding = request(`${url}/hold`, { headers: { host: "busy.test" } });
  await sleep(100); // the only connection is busy now
  const waited = await request(`${url}/`, { headers: { host: "busy.test" } });
  assert.equal(waited.statusCode, 503);
  assert.equal(waited.headers["retry-after"], "1");
  await waited.body.text();
  assert.equal(router.breakerState(backend.endpoint), "closed");
  release();
  assert.equal(await (await holding).body.text(), "ook");
  assert.equal((await get(url, "busy.test")).status, 200);
});

test("a client that pauses its upload after the backend answered is not cut as a stalled backend", async () => {
  // The backend answers at once and echoes the upload as it arrives.
  const backend = await startBackend((req, res) => {
    res.writeHead(200);
    req.pipe(res);
  });
  cleanups.push(() => backend.close());
  const { port, router } = await proxyOver(
    { "echo.test": backend.endpoint },
    { breaker: { consecutiveFailures: 1 } },
    { limits: { backendIdleTimeoutMs: 300 } },
  );
  const answer = await uploadWithPause(port, "echo.test", 800); // longer than backendIdleTimeoutMs
  assert.equal(answer.status, 200);
  assert.match(answer.body, /hello[\s\S]*world/);
  assert.equal(router.breakerState(backend.endpoint), "closed");
});
