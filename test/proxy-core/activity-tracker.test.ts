import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { ActivityTracker } from "../../src/proxy/core/activity-tracker.ts";
import type { ResolveContext, Resolver } from "../../src/proxy/core/resolver.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { Condition, echoBackend } from "./harness.ts";

test("activity is reported on connect and close, not per byte", async () => {
  const backend = await echoBackend();
  const seen: string[] = [];
  const resolver: Resolver = {
    resolve: () => ({ endpoint: backend.endpoint }),
    trackActivity: (key) => seen.push(key),
  };
  const router = loopbackRouter(resolver, { activityIntervalMs: 3_600_000 });
  const tcp: ResolveContext = { protocol: "tcp" };
  try {
    const socket = await router.connect(await router.route("app", tcp), tcp);
    let echoed = 0;
    const chunk = Buffer.alloc(64 * 1024);
    const allBack = new Condition(() => echoed >= 16 * chunk.length);
    socket.on("data", (data: Buffer) => {
      echoed += data.length;
      allBack.poke();
    });
    for (let i = 0; i < 16; i++) socket.write(chunk);
    await allBack.wait();
    assert.deepEqual(seen, ["app"]);
    socket.destroy();
    await once(socket, "close");
    assert.deepEqual(seen, ["app", "app"]);
  } finally {
    await router.close();
    await backend.close();
  }
});

test("keys with open connections are reported on every interval, others are not", async () => {
  const counts = new Map<string, number>();
  const enough = new Condition(() => (counts.get("busy") ?? 0) >= 4);
  const tracker = new ActivityTracker(
    {
      resolve: () => ({ endpoint: "127.0.0.1:1" }),
      trackActivity: (key) => {
        counts.set(key, (counts.get(key) ?? 0) + 1);
        enough.poke();
      },
    },
    10,
  );
  tracker.opened("busy");
  tracker.opened("quiet");
  tracker.closed("quiet");
  await enough.wait();
  assert.equal(counts.get("quiet"), 2);
  assert.equal(tracker.openConnections("busy"), 1);
  tracker.closed("busy");
  assert.equal(tracker.openConnections("busy"), 0);
  tracker.close();
});
