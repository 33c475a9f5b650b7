import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { after, test } from "node:test";
import {
  BackendRouter,
  LOOPBACK_RANGES,
  type Resolver,
  type Result,
} from "../../src/proxy/core/index.ts";
import { type RunningProxy, rawExchange, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const requests = {
  request: "GET / HTTP/1.1\r\nHost: cold.test\r\nConnection: close\r\n\r\n",
  "upgrade request":
    "GET / HTTP/1.1\r\nHost: cold.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
};

/** Resolves once the proxy has seen every client connection close. */
async function noClientsLeft(running: RunningProxy): Promise<void> {
  const gauge = running.proxy.metrics.activeConnections;
  while ((await gauge.get()).values[0]?.value !== 0) await new Promise(setImmediate);
}

for (const [kind, request] of Object.entries(requests)) {
  test(`a client that leaves during a cold start gives its queue place back (${kind})`, async () => {
    const backend = await startBackend((_req, res) => res.end("awake"));
    cleanups.push(() => backend.close());
    let awake = false;
    let resolves = 0;
    let wakeCalled: () => void = () => {};
    const waking = new Promise<void>((resolve) => {
      wakeCalled = resolve;
    });
    let finishWake: () => void = () => {};
    const resolver: Resolver = {
      resolve(): Result {
        resolves += 1;
        // The second client is routed: let the backend wake once it has queued.
        if (resolves === 2) {
          setImmediate(() => {
            awake = true;
            finishWake();
          });
        }
        return { endpoint: backend.endpoint, asleep: !awake };
      },
      wake() {
        wakeCalled();
        return new Promise<void>((resolve) => {
          finishWake = resolve;
        });
      },
    };
    // One place in the queue, and no routing cache so each client asks the resolver.
    const router = new BackendRouter({
      resolver,
      cache: false,
      coldStart: { maxQueue: 1 },
      ssrf: { allow: LOOPBACK_RANGES },
    });
    const running = await startProxy(resolver, {}, router);
    cleanups.push(() => running.close());

    const leaving = connect(running.port, "127.0.0.1");
    leaving.on("error", () => {});
    leaving.write(request);
    await waking;
    leaving.destroy();
    await once(leaving, "close");
    await noClientsLeft(running);

    const response = await rawExchange(running.port, request);
    assert.equal(response.status, 200);
    assert.equal(response.body, "awake");
    if (kind === "request") {
      // The one that left is counted as such, not as a failed cold start.
      const { values } = await running.proxy.metrics.errors.get();
      const reasons = values.filter((v) => v.value > 0).map((v) => v.labels.reason);
      assert.deepEqual(reasons, ["client_closed"]);
    }
  });
}
