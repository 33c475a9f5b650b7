// The proxy's own HTTP/1.1 backend client, end to end: a real HttpProxy in
// front of backends on raw sockets that write exact bytes (interim answers,
// every body framing, malformed heads, bytes nobody asked for, early answers,
// stalls), with real clients in front. The tests count the backend's
// connections, so pool reuse (or its refusal) is checked, not assumed.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Pool, request } from "undici";
import type { HttpProxyOptions } from "../../src/proxy/http/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { rawExchange, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface RawBackend {
  readonly endpoint: string;
  /** Every connection accepted so far, in order. */
  readonly sockets: Socket[];
  /** Most connections open at the same time so far. */
  maxOpen(): number;
}

/** A TCP backend whose connections are handed to `onConnection` as raw sockets. */
async function rawBackend(onConnection: (socket: Socket) => void): Promise<RawBackend> {
  const sockets: Socket[] = [];
  let open = 0;
  let maxOpen = 0;
  const server = createServer((socket) => {
    sockets.push(socket);
    open += 1;
    maxOpen = Math.max(maxOpen, open);
    socket.on("close", () => {
      open -= 1;
    });
    socket.on("error", () => {});
    onConnection(socket);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { endpoint: `127.0.0.1:${port}`, sockets, maxOpen: () => maxOpen };
}

interface SeenRequest {
  readonly method: string;
  readonly path: string;
  /** The request line and header fields. */
  readonly head: string;
  readonly socket: Socket;
  /** Which of the backend's connections carried it, from 1. */
  readonly connection: number;
  /** Which request on that connection it is, from 1. */
  readonly number: number;
}

/** A raw backend that calls `answer` for each request head; the requests have no body. */
async function scriptedBackend(answer: (request: SeenRequest) => void): Promise<RawBackend> {
  let connections = 0;
  return rawBackend((socket) => {
    const connection = ++connections;
    let number = 0;
    let buffered = "";
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      for (let end = buffered.indexOf("\r\n\r\n"); end >= 0; end = buffered.indexOf("\r\n\r\n")) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        const [method = "", path = ""] = head.split(" ", 2);
        answer({ method, path, head, socket, connection, number: ++number });
      }
    });
  });
}

/** A complete response with a Content-Length body. */
function response(body: string, headers = ""): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body}`;
}

/** A complete response with a chunked body of one chunk. */
function chunkedResponse(body: string): string {
  const size = Buffer.byteLength(body).toString(16);
  return `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\n${body}\r\n0\r\n\r\n`;
}

/** Short backend timeouts, so that a proxy waiting for bytes that never come fails fast. */
const FAST: HttpProxyOptions["limits"] = {
  backendResponseTimeoutMs: 3000,
  backendIdleTimeoutMs: 3000,
};

async function proxyTo(endpoint: string, options: Omit<HttpProxyOptions, "router"> = {}) {
  const running = await startProxy({ "app.test": endpoint }, { limits: FAST, ...options });
  cleanups.push(() => running.close());
  return running;
}

async function send(url: string, path: string, method = "GET", host = "app.test") {
  const answer = await request(`${url}${path}`, { method, headers: { host } });
  const body = await answer.body.text();
  return { status: answer.statusCode, headers: answer.headers, body };
}

/** One request on a connection of its own, closed after the answer, read as raw bytes. */
function rawRequest(port: number, method: string, path: string) {
  return rawExchange(
    port,
    `${method} ${path} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`,
  );
}

/** Whether `socket` closes within `ms`. */
async function closesWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.closed) return true;
  const timer = new AbortController();
  const closed = once(socket, "close").then(() => true);
  const late = sleep(ms, false, { signal: timer.signal }).catch(() => false);
  const result = await Promise.race([closed, late]);
  timer.abort();
  return result;
}

function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Sums a metric's values with these labels. */
async function counted(
  metric: { get(): Promise<{ values: { labels: object; value: number }[] }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((value) =>
      Object.entries(labels).every(
        ([name, wanted]) => String((value.labels as Record<string, unknown>)[name]) === wanted,
      ),
    )
    .reduce((sum, value) => sum + value.value, 0);
}

test("interim 1xx responses are skipped and the final one arrives intact; a 101 unasked is 502", async () => {
  const backend = await scriptedBackend(({ path, socket }) => {
    const final = response(`final ${path}`, "X-Final: yes\r\n");
    if (path === "/together") {
      socket.write(
        `HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n${final}`,
      );
    } else if (path === "/apart") {
      // Each in its own write, the first cut in the middle of its head.
      socket.write("HTTP/1.1 103 Early");
      setTimeout(() => socket.write(" Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"), 20);
      setTimeout(() => socket.write("HTTP/1.1 100 Continue\r\n\r\n"), 40);
      setTimeout(() => socket.write(final), 60);
    } else {
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      );
    }
  });
  const { url, port } = await proxyTo(backend.endpoint);
  for (const path of ["/together", "/apart"]) {
    const answer = await send(url, path);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers["x-final"], "yes");
    assert.equal(answer.headers.link, undefined, "the interim answer's fields stay behind");
    assert.equal(answer.body, `final ${path}`);
  }
  // Nothing of the interim answers reaches the client's wire.
  const raw = await rawRequest(port, "GET", "/together");
  assert.match(raw.head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal(raw.body, "final /together");
  assert.equal(backend.sockets.length, 1, "interim answers do not stop the connection's reuse");

  const upgrade = await send(url, "/switch");
  assert.equal(upgrade.status, 502);
  assert.ok(
    await closesWithin(backend.sockets[0]!, 2000),
    "the connection that said 101 is closed",
  );
  assert.equal((await send(url, "/together")).body, "final /together");
  assert.equal(backend.sockets.length, 2);
});

test("HEAD: the backend's Content-Length is passed on, no body is read, the connection is reused", async () => {
  const backend = await scriptedBackend(({ method, socket }) => {
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n";
    socket.write(method === "HEAD" ? head : head + "x".repeat(1234));
  });
  const { url, port } = await proxyTo(backend.endpoint);
  for (let i = 0; i < 2; i++) {
    const answer = await send(url, "/", "HEAD");
    assert.equal(answer.status, 200);
    assert.equal(answer.headers["content-length"], "1234");
    assert.equal(answer.body, "");
  }
  const raw = await rawRequest(port, "HEAD", "/");
  assert.match(raw.head, /^content-length: 1234$/im);
  assert.doesNotMatch(raw.head, /transfer-encoding/i);
  assert.equal(raw.body, "");
  assert.equal((await send(url, "/")).body, "x".repeat(1234));
  assert.equal(backend.sockets.length, 1, "three HEADs and a GET on one connection");
});

test("204 and 304 carry no body, whatever their fields say, and the connection is reused", async () => {
  const backend = await scriptedBackend(({ path, socket }) => {
    if (path === "/204") socket.write("HTTP/1.1 204 No Content\r\nX-Kind: none\r\n\r\n");
    // A 304's Content-Length is the length the full representation would have.
    else if (path === "/304")
      socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 1234\r\n\r\n');
    else socket.write(response("after"));
  });
  const { url, port } = await proxyTo(backend.endpoint);
  const empty = await send(url, "/204");
  assert.equal(empty.status, 204);
  assert.equal(empty.headers["x-kind"], "none");
  assert.equal(empty.body, "");
  // undici's client takes a 304's Content-Length for the length of its body
  // (RFC 9110 §8.6 says otherwise), so the 304 is read on the wire.
  const raw = await rawRequest(port, "GET", "/304");
  assert.match(raw.head, /^HTTP\/1\.1 304 Not Modified\r\n/);
  assert.match(raw.head, /^etag: "v1"$/im);
  assert.match(raw.head, /^content-length: 1234$/im);
  assert.equal(raw.body, "", "no byte after the 304's head");
  assert.deepEqual(await send(url, "/after").then((a) => [a.status, a.body]), [200, "after"]);
  assert.equal(backend.sockets.length, 1);
});

test("a close-delimited response reaches the client whole; its connection is not reused", async () => {
  const body = randomBytes(300_000);
  const backend = await scriptedBackend(({ socket }) => {
    socket.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
    socket.write(body.subarray(0, 100_000));
    setTimeout(() => socket.write(body.subarray(100_000, 200_000)), 20);
    // The end of the body is the end of the connection, right after its last bytes.
    setTimeout(() => socket.end(body.subarray(200_000)), 40);
  });
  const { url } = await proxyTo(backend.endpoint);
  for (let i = 1; i <= 2; i++) {
    const answer = await request(`${url}/`, { headers: { host: "app.test" } });
    assert.equal(answer.statusCode, 200);
    const received = Buffer.from(await answer.body.arrayBuffer());
    assert.equal(received.length, body.length);
    assert.equal(sha256(received), sha256(body));
    assert.equal(backend.sockets.length, i, "each response on a connection of its own");
  }
});

/** `payload` as a chunked body, with an extension on every chunk and two trailer fields. */
function chunkedWithExtras(payload: Buffer, sizes: number[]): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < payload.length; i++) {
    const size = Math.min(sizes[i % sizes.length]!, payload.length - at);
    const extension = i % 2 === 0 ? `;n${i}=v` : `;q="a b";flag`;
    const line = Buffer.from(`${size.toString(16)}${extension}\r\n`);
    parts.push(line, payload.subarray(at, at + size), Buffer.from("\r\n"));
    at += size;
  }
  parts.push(Buffer.from("0;last=yes\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"));
  return Buffer.concat(parts);
}

test("chunked responses with extensions and trailers reach the client with the same payload", async () => {
  const payload = randomBytes(50_000);
  const chunked = chunkedWithExtras(payload, [1, 4096, 17, 30_000]);
  const head =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-Other\r\n\r\n";
  const backend = await scriptedBackend(({ number, socket }) => {
    // The second answer on the connection shows where the first one ended.
    socket.write(number === 1 ? Buffer.concat([Buffer.from(head), chunked]) : response("next"));
  });
  const { url } = await proxyTo(backend.endpoint);
  const answer = await request(`${url}/`, { headers: { host: "app.test" } });
  assert.equal(answer.statusCode, 200);
  assert.equal(sha256(Buffer.from(await answer.body.arrayBuffer())), sha256(payload));
  assert.equal((await send(url, "/")).body, "next");
  assert.equal(backend.sockets.length, 1);
});

test("a chunked response split into many tiny TCP writes is read back exactly", async () => {
  const payload = randomBytes(120);
  const whole = Buffer.concat([
    Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
    chunkedWithExtras(payload, [1, 7, 30, 2]),
  ]);
  const backend = await scriptedBackend(async ({ number, socket }) => {
    if (number > 1) {
      socket.write(response("next"));
      return;
    }
    socket.setNoDelay(true);
    // One to three bytes a write, a pause after each so they go out as separate segments.
    for (let at = 0; at < whole.length; ) {
      const size = 1 + (at % 3);
      socket.write(whole.subarray(at, at + size));
      at += size;
      await sleep(1);
    }
  });
  const { url } = await proxyTo(backend.endpoint);
  const answer = await request(`${url}/`, { headers: { host: "app.test" } });
  assert.equal(answer.statusCode, 200);
  assert.equal(
    Buffer.from(await answer.body.arrayBuffer()).toString("hex"),
    payload.toString("hex"),
  );
  assert.equal((await send(url, "/")).body, "next");
  assert.equal(backend.sockets.length, 1);
});

test("malformed responses are 502, close their connection and leave the proxy and pool serving", async () => {
  const malformed: Record<string, string> = {
    "/cl-and-te":
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "/two-lengths": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "/bare-lf-status": "HTTP/1.1 200 OK\nContent-Length: 5\r\n\r\nhello",
    "/bare-lf-field": "HTTP/1.1 200 OK\r\nContent-Length: 5\nX-Smuggled: 1\r\n\r\nhello",
    // LF line ends only, from a backend that then closes the connection.
    "/bare-lf-closed": "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello",
    "/garbage-status": "ICY 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "/huge-head": `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70 * 1024)}\r\nContent-Length: 2\r\n\r\nok`,
    "/endless-head": `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70 * 1024)}`,
  };
  // The backend keeps each connection open: the proxy must act on the bytes alone.
  const backend = await scriptedBackend(({ path, socket }) => {
    const bytes = malformed[path] ?? response("good");
    if (path === "/bare-lf-closed") socket.end(bytes);
    else socket.write(bytes);
  });
  const other = await startBackend((_req, res) => res.end("other"));
  cleanups.push(() => other.close());
  // No breaker: five 502s in a row would rightly open it, which is not what is tested here.
  const router = loopbackRouter(
    { "app.test": backend.endpoint, "other.test": other.endpoint },
    { breaker: false },
  );
  const running = await startProxy({}, { limits: FAST }, router);
  cleanups.push(() => running.close());
  const { url, proxy } = running;

  for (const path of Object.keys(malformed)) {
    const started = performance.now();
    const bad = await send(url, path);
    assert.equal(bad.status, 502, path);
    assert.equal(bad.body, "bad response from the backend\n", path);
    assert.ok(performance.now() - started < 2000, `${path} answered without waiting for a timeout`);
    const used = backend.sockets.at(-1)!;
    assert.ok(await closesWithin(used, 2000), `${path}: its connection is closed`);
    assert.deepEqual(await send(url, "/good").then((a) => [a.status, a.body]), [200, "good"], path);
    assert.equal((await send(url, "/", "GET", "other.test")).body, "other", path);
  }
  const labels = { route: "app.test", backend: backend.endpoint, reason: "backend_error" };
  assert.equal(await counted(proxy.metrics.errors, labels), Object.keys(malformed).length);
});

test("bytes a backend sends after a complete response keep its connection out of the pool", async () => {
  const extra = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL";
  const backend = await scriptedBackend(({ path, socket, connection, number }) => {
    const answer = response(`c${connection}-r${number}`);
    if (path === "/same-write") socket.write(answer + extra);
    else if (path === "/chunked")
      socket.write(`${chunkedResponse(`c${connection}-r${number}`)}${extra}`);
    else socket.write(answer);
    // While the connection is idle in the pool.
    if (path === "/later") setTimeout(() => socket.write(extra), 50);
  });
  const { url } = await proxyTo(backend.endpoint);
  assert.equal((await send(url, "/same-write")).body, "c1-r1");
  assert.ok(await closesWithin(backend.sockets[0]!, 2000), "the connection is closed");
  assert.equal(
    (await send(url, "/plain")).body,
    "c2-r1",
    "the next request is on a fresh connection",
  );

  assert.equal((await send(url, "/chunked")).body, "c2-r2");
  assert.ok(await closesWithin(backend.sockets[1]!, 2000), "the connection is closed");
  assert.equal((await send(url, "/plain")).body, "c3-r1");

  assert.equal((await send(url, "/later")).body, "c3-r2");
  assert.ok(await closesWithin(backend.sockets[2]!, 2000), "the idle connection is closed");
  assert.equal((await send(url, "/plain")).body, "c4-r1");
  assert.equal((await send(url, "/plain")).body, "c4-r2");
  assert.equal(backend.sockets.length, 4);
});

test("an answer the backend sends while the client is still uploading reaches the client; the connection is not reused", async () => {
  let received = 0;
  const backend = await scriptedBackend(({ method, socket }) => {
    if (method !== "POST") {
      socket.write(response("fresh"));
      return;
    }
    // Answers at once, keeps reading what comes and says nothing of closing:
    // the proxy must see for itself that the request was not sent whole.
    socket.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\n\r\ntoo large");
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
    });
  });
  const { url } = await proxyTo(backend.endpoint);
  const total = 64 * 1024 * 1024;
  const piece = Buffer.alloc(64 * 1024, 120);
  let uploaded = 0;
  async function* upload() {
    for (; uploaded < total; uploaded += piece.length) yield piece;
  }
  const answer = await request(`${url}/upload`, {
    method: "POST",
    headers: { host: "app.test", "content-length": String(total) },
    body: Readable.from(upload()),
  });
  assert.equal(answer.statusCode, 413);
  assert.equal(await answer.body.text(), "too large");
  assert.ok(uploaded < total, "the answer came before the upload ended");
  assert.ok(await closesWithin(backend.sockets[0]!, 2000), "the connection is closed");
  assert.ok(received < total, `the backend got ${received} of ${total} body bytes`);
  assert.equal((await send(url, "/")).body, "fresh");
  assert.equal(backend.sockets.length, 2);
});

test("curl streaming a chunked upload gets the backend's early answer; the connection is not reused", async () => {
  const backend = await scriptedBackend(({ method, socket }) => {
    if (method === "PUT")
      socket.write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\n\r\ntoo large");
    else socket.write(response("fresh"));
  });
  const { url } = await proxyTo(backend.endpoint);
  // `-T -` streams stdin as a chunked body; stdin is fed until curl exits.
  const curl = spawn("curl", [
    "-sS",
    "-T",
    "-",
    "-H",
    "Host: app.test",
    "-H",
    "Expect:",
    "-w",
    "\n%{http_code}",
    `${url}/upload`,
  ]);
  cleanups.push(() => void curl.kill());
  curl.stdin.on("error", () => {});
  let output = "";
  curl.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(curl, "exit");
  const piece = Buffer.alloc(64 * 1024, 121);
  async function* feed() {
    while (curl.exitCode === null) yield piece;
  }
  const feeder = Readable.from(feed());
  cleanups.push(() => void feeder.destroy());
  feeder.pipe(curl.stdin);
  const [code] = (await exited) as [number];
  assert.equal(code, 0);
  assert.equal(output, "too large\n413");
  assert.ok(await closesWithin(backend.sockets[0]!, 2000), "the connection is closed");
  assert.equal((await send(url, "/")).body, "fresh");
  assert.equal(backend.sockets.length, 2);
});

/** Reads a chunked body from the start of `data`: the payload, or undefined while incomplete. */
function readChunked(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const line = data.toString("latin1", at, lineEnd);
    assert.match(line, /^[0-9a-f]+$/i, "a bare chunk size, no extension");
    const size = Number.parseInt(line, 16);
    if (size === 0) {
      if (data.length < lineEnd + 4) return undefined;
      assert.equal(data.toString("latin1", lineEnd, lineEnd + 4), "\r\n\r\n", "no trailers");
      assert.equal(data.length, lineEnd + 4, "nothing after the last chunk");
      return Buffer.concat(parts);
    }
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    assert.equal(data.toString("latin1", lineEnd + 2 + size, lineEnd + 4 + size), "\r\n");
    at = lineEnd + 4 + size;
  }
}

test("a chunked upload reaches the backend chunked, with the same bytes", async () => {
  const payload = randomBytes(1024 * 1024 + 123);
  const seen: { head: string; body: Buffer }[] = [];
  const backend = await rawBackend((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf("\r\n\r\n");
      if (end < 0) return;
      const body = readChunked(buffered.subarray(end + 4));
      if (!body) return;
      seen.push({ head: buffered.toString("latin1", 0, end), body });
      buffered = Buffer.alloc(0);
      socket.write(response(sha256(body)));
    });
  });
  const { url } = await proxyTo(backend.endpoint);
  // Pieces of uneven sizes, with no Content-Length: the client sends them chunked.
  const pieces: Buffer[] = [];
  for (let at = 0, i = 0; at < payload.length; i++) {
    const size = [1, 65_536, 3, 100_000, 4096][i % 5]!;
    pieces.push(payload.subarray(at, at + size));
    at += size;
  }
  const answer = await request(`${url}/upload`, {
    method: "POST",
    headers: { host: "app.test" },
    body: Readable.from(pieces),
  });
  assert.equal(answer.statusCode, 200);
  assert.equal(await answer.body.text(), sha256(payload));
  assert.equal(seen.length, 1);
  const { head, body } = seen[0]!;
  assert.match(head, /^POST \/upload HTTP\/1\.1\r\n/);
  assert.match(head, /^transfer-encoding: chunked$/im);
  assert.doesNotMatch(head, /^content-length:/im);
  assert.equal(body.length, payload.length);
  assert.ok(body.equals(payload));
});

test("a client that stops reading for longer than backendIdleTimeoutMs is not cut", async () => {
  // Long enough that a busy machine stalling this process does not look
  // like a silent backend once the client reads again.
  const idleMs = 800;
  // About 7 MiB fills the socket buffers between backend and client here.
  const body = Buffer.alloc(24 * 1024 * 1024, "0123456789abcdef");
  let flushed = false;
  const backend = await scriptedBackend(({ socket }) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    socket.write(body, () => {
      flushed = true;
    });
  });
  const { port, proxy } = await proxyTo(backend.endpoint, {
    limits: { ...FAST, backendIdleTimeoutMs: idleMs },
  });
  const client = connect(port, "127.0.0.1");
  client.pause();
  client.write("GET /big HTTP/1.1\r\nHost: app.test\r\n\r\n");
  await sleep(idleMs * 2.5);
  // The whole pipe is full: the backend is still waiting to hand over the rest.
  assert.equal(flushed, false, "the client's pause held the backend back");

  const hash = createHash("sha256");
  let head = "";
  let bodyBytes = 0;
  const done = new Promise<void>((resolve, reject) => {
    client.on("data", (chunk: Buffer) => {
      let data = chunk;
      if (!head.endsWith("\r\n\r\n")) {
        const text = head + data.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) {
          head = text;
          return;
        }
        data = data.subarray(end + 4 - head.length);
        head = text.slice(0, end + 4);
      }
      hash.update(data);
      bodyBytes += data.length;
      if (bodyBytes === body.length) resolve();
    });
    client.on("close", () => reject(new Error(`cut after ${bodyBytes} body bytes`)));
  });
  client.resume();
  await done;
  client.destroy();
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.equal(hash.digest("hex"), sha256(body));
  assert.equal(await counted(proxy.metrics.errors, { reason: "response_cut" }), 0);
});

test("a backend that stalls mid-body longer than backendIdleTimeoutMs has its client connection cut", async () => {
  const idleMs = 300;
  const backend = await scriptedBackend(({ socket }) => {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n${"s".repeat(50_000)}`);
  });
  const { port, proxy } = await proxyTo(backend.endpoint, {
    limits: { ...FAST, backendIdleTimeoutMs: idleMs },
  });
  const started = performance.now();
  const cut = await Promise.race([
    rawExchange(port, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n"),
    sleep(5000, undefined),
  ]);
  const elapsed = performance.now() - started;
  assert.ok(cut, "the client connection was cut");
  assert.equal(cut.status, 200);
  assert.match(cut.head, /^content-length: 100000$/im);
  assert.equal(cut.body.length, 50_000, "the client has half the body, and knows it");
  assert.ok(elapsed >= idleMs - 20, `cut after ${elapsed.toFixed(0)} ms`);
  const labels = { route: "app.test", backend: backend.endpoint, reason: "response_cut" };
  assert.equal(await counted(proxy.metrics.errors, labels), 1);
  assert.ok(await closesWithin(backend.sockets[0]!, 2000), "the stalled connection is closed");
});

test("Keep-Alive: timeout=1 from a backend closes the connection at once; a longer hint keeps it", async () => {
  const backend = await scriptedBackend(({ path, socket, connection, number }) => {
    const hint = path === "/short" ? "timeout=1" : "timeout=5, max=100";
    socket.write(response(`c${connection}-r${number}`, `Keep-Alive: ${hint}\r\n`));
  });
  const { url } = await proxyTo(backend.endpoint);
  assert.equal((await send(url, "/short")).body, "c1-r1");
  // One second minus the proxy's one-second margin leaves nothing: closed now, not in a second.
  assert.ok(await closesWithin(backend.sockets[0]!, 500), "closed right after the response");
  assert.equal((await send(url, "/long")).body, "c2-r1", "the next request opens a new connection");
  assert.equal((await send(url, "/long")).body, "c2-r2", "a five-second hint lets it be reused");
  assert.equal(backend.sockets.length, 2);
});

test("with pool.connections 2, six concurrent slow requests share two backend connections", async () => {
  const backend = await scriptedBackend(({ path, socket }) => {
    setTimeout(() => socket.write(response(path)), 150);
  });
  const { url } = await proxyTo(backend.endpoint, { pool: { connections: 2 } });
  const client = new Pool(url, { connections: 6 });
  cleanups.push(() => client.close());
  const paths = ["/1", "/2", "/3", "/4", "/5", "/6"];
  const answers = await Promise.all(
    paths.map(async (path) => {
      const answer = await client.request({ path, method: "GET", headers: { host: "app.test" } });
      return [answer.statusCode, await answer.body.text()];
    }),
  );
  assert.deepEqual(
    answers,
    paths.map((path) => [200, path]),
  );
  assert.equal(backend.maxOpen(), 2);
  assert.equal(
    backend.sockets.length,
    2,
    "the two connections were reused for the queued requests",
  );
});

test("a response head whose lines end in a bare LF is 502 at once, not a timeout", async () => {
  // The backend keeps the connection open, as a server that speaks LF-only HTTP does.
  const backend = await scriptedBackend(({ socket }) => {
    socket.write("HTTP/1.1 200 OK\nContent-Length: 5\n\nhello");
  });
  const { url, proxy } = await proxyTo(backend.endpoint, {
    limits: { ...FAST, backendResponseTimeoutMs: 60_000 },
  });
  const answer = await send(url, "/");
  assert.equal(answer.status, 502);
  const labels = { route: "app.test", backend: backend.endpoint, reason: "backend_error" };
  assert.equal(await counted(proxy.metrics.errors, labels), 1);
});

test("interim 1xx answers do not hold off backendResponseTimeoutMs: no final head in time is 504", async () => {
  const backend = await scriptedBackend(({ socket }) => {
    const timer = setInterval(() => socket.write("HTTP/1.1 100 Continue\r\n\r\n"), 100);
    socket.on("close", () => clearInterval(timer));
  });
  const { url } = await proxyTo(backend.endpoint, {
    limits: { ...FAST, backendResponseTimeoutMs: 500 },
  });
  assert.equal((await send(url, "/")).status, 504);
});
