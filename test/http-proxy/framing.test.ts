// What the proxy writes on the wire: the request's framing is always its
// own (a client cannot unframe its body by naming Content-Length in
// Connection, the smuggling vector), an absolute-form target must name the
// host the request was routed by and reaches the backend in origin-form,
// and a backend's repeated Content-Length reaches the client once.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { request } from "undici";
import { rawExchange, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A backend that records each request line with its body, and answers with the request line. */
async function recordingBackend() {
  const seen: string[] = [];
  const backend = await startBackend(async (req, res) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    seen.push(`${req.method} ${req.url} ${body}`);
    res.end(`${req.method} ${req.url}`);
  });
  cleanups.push(() => backend.close());
  return { backend, seen };
}

/** A backend that answers any bytes with `reply`, exactly as written; with `close`, then closes. */
async function rawBackend(reply: string, { close = false } = {}): Promise<string> {
  const server = createServer((socket: Socket) => {
    socket.on("error", () => {});
    socket.on("data", () => (close ? socket.end(reply) : socket.write(reply)));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => void server.close());
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test("a client cannot unframe its body by listing Content-Length in Connection", async () => {
  const { backend, seen } = await recordingBackend();
  const proxy = await startProxy({ "app.test": backend.endpoint });
  cleanups.push(() => proxy.close());
  const smuggled = "GET /smuggled HTTP/1.1\r\nHost: app.test\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n";
  const answer = await rawExchange(
    proxy.port,
    `POST /outer HTTP/1.1\r\nHost: app.test\r\nConnection: content-length, close\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
  );
  assert.equal(answer.status, 200);
  assert.equal(answer.body, "POST /outer");
  // The next client on the (pooled) backend connection gets its own answer.
  const victim = await request(`${proxy.url}/victim`, { headers: { host: "app.test" } });
  assert.equal(await victim.body.text(), "GET /victim");
  assert.deepEqual(seen, [`POST /outer ${smuggled}`, "GET /victim "]);
});

test("an absolute-form target reaches the backend in origin-form, and only for the Host it was routed by", async () => {
  const { backend, seen } = await recordingBackend();
  const proxy = await startProxy({ "app.test": backend.endpoint });
  cleanups.push(() => proxy.close());
  const same = await rawExchange(
    proxy.port,
    "GET http://APP.test:8080/path?q=1 HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(same.status, 200);
  assert.equal(same.body, "GET /path?q=1");
  const bare = await rawExchange(
    proxy.port,
    "GET http://app.test HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(bare.body, "GET /");
  const other = await rawExchange(
    proxy.port,
    "GET http://admin.internal/secret HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(other.status, 400);
  assert.deepEqual(seen, ["GET /path?q=1 ", "GET / "]);
});

test("a backend's repeated Content-Length reaches the client as one value", async () => {
  const endpoint = await rawBackend(
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\nConnection: close\r\n\r\nok",
  );
  const proxy = await startProxy({ "dup.test": endpoint });
  cleanups.push(() => proxy.close());
  const answer = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: dup.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.head.match(/^content-length:.*$/gim), ["content-length: 2"]);
  assert.equal(answer.body, "ok");
});

test("the asterisk-form is for OPTIONS only; OPTIONS to an absolute-form without a path becomes *", async () => {
  const { backend, seen } = await recordingBackend();
  const proxy = await startProxy({ "app.test": backend.endpoint });
  cleanups.push(() => proxy.close());
  const star = (method: string) =>
    rawExchange(proxy.port, `${method} * HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`);
  assert.equal((await star("GET")).status, 400);
  assert.equal((await star("OPTIONS")).status, 200);
  const absolute = await rawExchange(
    proxy.port,
    "OPTIONS http://app.test HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(absolute.body, "OPTIONS *");
  assert.deepEqual(seen, ["OPTIONS * ", "OPTIONS * "]);
});

test("a request transfer coding other than chunked alone is 501, not forwarded without it", async () => {
  const { backend, seen } = await recordingBackend();
  const proxy = await startProxy({ "app.test": backend.endpoint });
  cleanups.push(() => proxy.close());
  const answer = await rawExchange(
    proxy.port,
    "POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
  );
  assert.equal(answer.status, 501);
  assert.deepEqual(seen, []);
});

test("a 204 reaches the client without the Content-Length its backend sent", async () => {
  const endpoint = await rawBackend(
    "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
  );
  const proxy = await startProxy({ "empty.test": endpoint });
  cleanups.push(() => proxy.close());
  const answer = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: empty.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(answer.status, 204);
  assert.doesNotMatch(answer.head, /content-length/i);
});

test("a declined upgrade reaches the client with its Content-Length", async () => {
  const endpoint = await rawBackend(
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope!",
    { close: true },
  );
  const proxy = await startProxy({ "ws.test": endpoint });
  cleanups.push(() => proxy.close());
  const answer = await rawExchange(
    proxy.port,
    "GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  assert.equal(answer.status, 403);
  assert.match(answer.head, /^content-length: 5$/im);
  assert.equal(answer.body, "nope!");
});
