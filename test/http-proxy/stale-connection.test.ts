import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { request } from "undici";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import { startProxy } from "./harness.ts";

/**
 * A backend in the keep-alive race, made deterministic: it answers the first
 * request of each connection advertising keep-alive, then closes the
 * connection without answering as soon as the next request's bytes arrive,
 * as a backend that drains exactly when the proxy reuses its idle connection.
 * With `answersFirst` false it answers nothing: a broken backend.
 */
async function startClosingBackend(answersFirst = true) {
  const server = createServer((socket: Socket) => {
    let answered = !answersFirst;
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      const head = chunk.toString("latin1");
      if (!/^[A-Z]+ \//.test(head)) return; // a body chunk
      stats.requests += 1;
      stats.methods.push(head.slice(0, head.indexOf(" ")));
      if (answered) {
        socket.destroy();
        return;
      }
      answered = true;
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\nKeep-Alive: timeout=60\r\n\r\nok",
      );
    });
  });
  const stats = { requests: 0, methods: [] as string[] };
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, endpoint, stats };
}

const backend = await startClosingBackend();
const broken = await startClosingBackend(false);
// A breaker that opens on two failures in a row, or once 30% of a few
// exchanges fail: a stale connection counted as a failure would open it.
const router = new BackendRouter({
  resolver: new StaticResolver({ "app.test": backend.endpoint, "broken.test": broken.endpoint }),
  ssrf: { allow: LOOPBACK_RANGES },
  breaker: { consecutiveFailures: 2, errorRatio: 0.3, minimumRequests: 2 },
});
const proxy = await startProxy({}, {}, router);
after(async () => {
  await proxy.close();
  backend.server.close();
  broken.server.close();
});

async function send(method: string, body?: string, host = "app.test") {
  const response = await request(`${proxy.url}/`, { method, body, headers: { host } });
  return { status: response.statusCode, text: await response.body.text() };
}

test("an idempotent request on a connection the backend closed is sent again on a new one", async () => {
  const before = backend.stats.requests;
  assert.deepEqual(await send("GET"), { status: 200, text: "ok" });
  // The proxy reuses the pooled connection; the backend closes it unanswered.
  assert.deepEqual(await send("GET"), { status: 200, text: "ok" });
  assert.equal(backend.stats.requests - before, 3, "the second GET reached the backend twice");
});

test("a request with a body is not sent again: the client gets 502", async () => {
  assert.equal((await send("GET")).status, 200);
  const before = backend.stats.requests;
  assert.equal((await send("POST", "payload")).status, 502);
  assert.equal(backend.stats.requests - before, 1, "the POST reached the backend once");
});

test("stale keep-alive connections do not open the circuit breaker", async () => {
  for (let round = 0; round < 6; round++) {
    assert.equal((await send("GET")).status, 200);
    assert.equal((await send("POST", "payload")).status, 502);
  }
  for (let round = 0; round < 6; round++) {
    assert.equal((await send("GET")).status, 200);
    assert.equal((await send("GET")).status, 200);
  }
  assert.equal(router.breakerState(backend.endpoint), "closed");
  assert.equal((await send("GET")).status, 200);
});

test("a request sent again that fails again is a backend failure for the breaker", async () => {
  const before = broken.stats.requests;
  for (let round = 0; round < 2; round++) {
    assert.equal((await send("GET", undefined, "broken.test")).status, 502);
  }
  assert.equal(broken.stats.requests - before, 4, "each GET was sent twice");
  assert.equal(router.breakerState(broken.endpoint), "open");
  assert.equal((await send("GET", undefined, "broken.test")).status, 503);
});
