import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingHttpHeaders, RequestListener } from "node:http";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import type { HttpProxyOptions } from "../../src/proxy/http/index.ts";
import { parseRaw, rawExchange, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A proxy serving app.test from a backend running `handler`; both closed after the tests. */
async function proxyTo(handler: RequestListener, options: Omit<HttpProxyOptions, "router"> = {}) {
  const backend = await startBackend(handler);
  cleanups.push(() => backend.close());
  const running = await startProxy({ "app.test": backend.endpoint }, options);
  cleanups.push(() => running.close());
  return running;
}

interface Seen {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

test("an upgrade the backend declines is answered and the connection closed, not tunnelled", async () => {
  // A backend that ignores Upgrade and answers keep-alive, as most do for h2c.
  const seen: Seen[] = [];
  const running = await proxyTo(
    (req, res) => {
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      req.resume();
      res.end("plain");
    },
    { limits: { maxBodyBytes: 16 } },
  );

  const socket = connect(running.port, "127.0.0.1");
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.write(
    "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\n" +
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
  );
  // Once the answer has arrived, try to slip a request past the proxy's checks.
  await new Promise<void>((resolve) => {
    const check = () => {
      if (Buffer.concat(chunks).includes("plain")) resolve();
      else socket.once("data", check);
    };
    check();
  });
  const body = "x".repeat(64);
  socket.write(
    `POST /admin HTTP/1.1\r\nHost: internal.other\r\nX-Forwarded-For: 10.0.0.1\r\n` +
      `Content-Length: ${body.length}\r\n\r\n${body}`,
  );
  await once(socket, "close");

  const response = parseRaw(Buffer.concat(chunks).toString("latin1"));
  assert.equal(response.status, 200);
  assert.equal(response.body, "plain");
  assert.match(response.head, /^connection: close$/im);
  assert.match(response.head, /^via: 1\.1 nexus$/im);
  // Only the upgrade request reached the backend, with the proxy's headers.
  assert.deepEqual(
    seen.map((request) => `${request.method} ${request.url}`),
    ["GET /"],
  );
  assert.equal(seen[0]?.headers["x-forwarded-for"], "127.0.0.1");
  assert.equal(seen[0]?.headers.upgrade, "h2c");
});

test("a backend's refusal of a WebSocket reaches the client with its body", async () => {
  const running = await proxyTo((_req, res) => {
    res.writeHead(401, { "www-authenticate": "Bearer" });
    res.end("who are you");
  });

  const response = await rawExchange(
    running.port,
    "GET /chat HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
  );
  assert.equal(response.status, 401);
  assert.match(response.head, /^www-authenticate: Bearer$/im);
  assert.equal(response.body, "who are you");
});

test("a backend that never answers an upgrade gets 504 after the response timeout", async () => {
  const running = await proxyTo(() => {}, { limits: { backendResponseTimeoutMs: 200 } });

  const response = await rawExchange(
    running.port,
    "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  assert.equal(response.status, 504);
});

test("an upgrade request with a body is proxied as plain HTTP without its Upgrade header", async () => {
  const seen: { upgrade: string | undefined; body: string }[] = [];
  const running = await proxyTo(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += String(chunk);
    seen.push({ upgrade: req.headers.upgrade, body });
    res.end("posted");
  });

  // What `curl --http2 -d hello` sends.
  const response = await rawExchange(
    running.port,
    "POST /form HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings, close\r\n" +
      "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nContent-Length: 5\r\n\r\nhello",
  );
  assert.equal(response.status, 200);
  assert.equal(response.body, "posted");
  assert.deepEqual(seen, [{ upgrade: undefined, body: "hello" }]);
});

test("a client that sends too much before its upgrade is accepted is cut off", async () => {
  // The backend never answers: only the early bytes can end the exchange.
  const running = await proxyTo(() => {});
  const response = await rawExchange(
    running.port,
    "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n" +
      "x".repeat(100 * 1024),
  );
  assert.equal(response.status, 0);
});

test("upgrades a backend answers with garbage open its breaker, though it accepts connections", async () => {
  let accepted = 0;
  const server = createServer((socket: Socket) => {
    accepted += 1;
    socket.on("error", () => {});
    socket.once("data", () => socket.end("NOT HTTP AT ALL\r\n\r\n"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => void server.close());
  const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const router = new BackendRouter({
    resolver: new StaticResolver({ "ws.test": endpoint }),
    ssrf: { allow: LOOPBACK_RANGES },
    breaker: { consecutiveFailures: 2, openMs: 60_000 },
  });
  const running = await startProxy({}, {}, router);
  cleanups.push(() => running.close());
  const upgrade = () =>
    rawExchange(
      running.port,
      "GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
  assert.equal((await upgrade()).status, 502);
  assert.equal((await upgrade()).status, 502);
  assert.equal(router.breakerState(endpoint), "open");
  assert.equal((await upgrade()).status, 503);
  assert.equal(accepted, 2, "an open breaker does not touch the backend");
});
