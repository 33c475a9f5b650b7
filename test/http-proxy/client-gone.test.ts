import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import { startBackend, startProxy } from "./harness.ts";

// A backend that reads the whole request, then answers after 300 ms: time
// enough for a client to give up while its request is in flight.
let started = 0;
const backend = await startBackend((req, res) => {
  started += 1;
  req.resume();
  req.on("end", () => setTimeout(() => res.end("ok"), 300));
});
// Two failures in a row would open this breaker.
const router = new BackendRouter({
  resolver: new StaticResolver({ "app.test": backend.endpoint }),
  ssrf: { allow: LOOPBACK_RANGES },
  breaker: { consecutiveFailures: 2 },
});
const proxy = await startProxy({}, {}, router);
after(async () => {
  await proxy.close();
  await backend.close();
});

/**
 * Sends `text` on `count` connections at once and closes them all together
 * once the backend has seen every request: departures in a row, with no new
 * backend connection in between whose success would reset the breaker's count.
 */
async function sendAndLeave(text: string, count: number): Promise<void> {
  const before = started;
  const sockets = await Promise.all(
    Array.from({ length: count }, async () => {
      const socket = connect(proxy.port, "127.0.0.1");
      socket.on("error", () => {});
      await once(socket, "connect");
      socket.write(text);
      return socket;
    }),
  );
  for (let waited = 0; started - before < count; waited += 10) {
    assert.ok(waited < 5000, "every request reached the backend");
    await sleep(10);
  }
  for (const socket of sockets) socket.destroy();
  await sleep(100);
}

async function clientClosedCount(): Promise<number> {
  const metric = await proxy.proxy.metrics.errors.get();
  return metric.values
    .filter((value) => value.labels.reason === "client_closed")
    .reduce((sum, value) => sum + value.value, 0);
}

test("clients that leave while waiting for a response do not open the backend's breaker", async () => {
  await sendAndLeave("GET / HTTP/1.1\r\nHost: app.test\r\n\r\n", 4);
  assert.equal(router.breakerState(backend.endpoint), "closed");
  const response = await request(`${proxy.url}/`, { headers: { host: "app.test" } });
  assert.equal(response.statusCode, 200);
  assert.equal(await response.body.text(), "ok");
  assert.ok((await clientClosedCount()) >= 4, "each departure is counted as client_closed");
});

test("clients that leave in the middle of an upload do not open the backend's breaker", async () => {
  const partial = "POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1000\r\n\r\nonly part";
  await sendAndLeave(partial, 4);
  assert.equal(router.breakerState(backend.endpoint), "closed");
  const response = await request(`${proxy.url}/`, { headers: { host: "app.test" } });
  assert.equal(response.statusCode, 200);
  await response.body.text();
});

test("a client that leaves in the middle of the response body is counted as client_closed (499)", async () => {
  let release: () => void = () => {};
  const streaming = await startBackend((_req, res) => {
    res.write("first part");
    release = () => res.end();
  });
  const streamProxy = await startProxy({ "stream.test": streaming.endpoint });
  after(async () => {
    await streamProxy.close();
    await streaming.close();
  });
  const socket = connect(streamProxy.port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write("GET / HTTP/1.1\r\nHost: stream.test\r\n\r\n");
  await once(socket, "data"); // the head and the first part
  socket.destroy();
  const { errors, requests } = streamProxy.proxy.metrics;
  for (let waited = 0; ; waited += 10) {
    const { values } = await errors.get();
    if (values.some((v) => v.labels.reason === "client_closed")) break;
    assert.ok(waited < 5000, "the departure is counted");
    await sleep(10);
  }
  const { values } = await requests.get();
  assert.ok(values.some((v) => v.labels.route === "stream.test" && v.labels.status === 499));
  assert.ok(!values.some((v) => v.labels.route === "stream.test" && v.labels.status === 200));
  release();
});
