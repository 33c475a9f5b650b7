// Idle stop behind the proxy: a service without traffic goes back to sleep
// and the next request wakes it again; a request that arrives while it is
// being stopped waits for the restart instead of failing. A short stop
// deadline keeps the test quick should a connection still be open when a
// stop begins.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { appService, eventually, get, pidOf, type Reply, runSystem } from "./harness.ts";

test("an idle service sleeps, and the next request wakes it again", async () => {
  await using system = await runSystem({
    lazy: appService("lazy", { onDemand: { idleMs: 500 }, stopTimeoutMs: 1000 }),
  });
  const supervisor = system.orchestrator.supervisors.get("lazy")!;
  const first = pidOf(await get(system.client, "lazy.localhost", "/pid"));
  await eventually("the idle stop", () => supervisor.status === "sleeping");
  const second = pidOf(await get(system.client, "lazy.localhost", "/pid"));
  assert.notEqual(second, first);
  assert.deepEqual(await system.starts(), [first, second]);
  assert.equal(supervisor.coldStarts, 2);
});

test("steady traffic through the proxy keeps a service awake past its idle time", async () => {
  await using system = await runSystem({
    lazy: appService("lazy", { onDemand: { idleMs: 1000 }, stopTimeoutMs: 1000 }),
  });
  const pid = pidOf(await get(system.client, "lazy.localhost", "/pid"));
  // Three idle periods of traffic, a request every 100 ms.
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    assert.equal(pidOf(await get(system.client, "lazy.localhost", "/pid")), pid);
    await sleep(100);
  }
  assert.deepEqual(await system.starts(), [pid]);
});

test("requests that arrive while an idle service is being stopped wait for its restart", async () => {
  await using system = await runSystem({
    lazy: appService("lazy", { onDemand: { idleMs: 300 }, stopTimeoutMs: 1000 }),
  });
  const first = pidOf(await get(system.client, "lazy.localhost", "/pid"));
  // Requests sent at the very moment the idle stop begins, and when it ends.
  const raced: Promise<Reply>[] = [];
  const stopped = new Promise<void>((resolve) => {
    system.onEvent = (line) => {
      if (line !== "lazy: stopping" && line !== "lazy: sleeping") return;
      for (let i = 0; i < 20; i += 1) raced.push(get(system.client, "lazy.localhost", "/pid"));
      if (line === "lazy: sleeping") {
        system.onEvent = () => {};
        resolve();
      }
    };
  });
  await stopped;
  const replies = await Promise.all(raced);
  assert.equal(replies.length, 40);
  const pids = new Set(replies.map(pidOf));
  const started = await system.starts();
  assert.equal(started[0], first);
  assert.ok(!pids.has(first), "no raced request reached the process being stopped");
  for (const pid of pids) assert.ok(started.includes(pid), `pid ${pid} is a started process`);
});
