// A service that cannot start: every client waiting for it gets a clear
// answer (503 when the start failed, 504 when it took too long), never a hang.
import assert from "node:assert/strict";
import { test } from "node:test";
import { appService, broken, get, runSystem } from "./harness.ts";

test("a service that fails to start gives every waiting client a 503", async () => {
  await using system = await runSystem({
    // Retried by its restart policy (100 ms, then ×1.5) until it counts as a crash loop.
    doomed: { entry: broken, restart: { maxRestarts: 2 }, onDemand: { idleMs: 60_000 } },
  });
  const replies = await Promise.all(
    Array.from({ length: 50 }, () => get(system.client, "doomed.localhost", "/pid")),
  );
  for (const reply of replies) {
    assert.equal(reply.status, 503, reply.body);
    assert.ok(Number(reply.headers["retry-after"]) >= 1);
  }
  assert.equal(system.orchestrator.supervisors.get("doomed")!.status, "errored");
  // Later requests are refused at once, with a longer Retry-After.
  const later = await get(system.client, "doomed.localhost", "/pid");
  assert.equal(later.status, 503);
  assert.equal(later.headers["retry-after"], "30");
});

test("a service slower to start than the cold-start timeout gives every waiting client a 504", async () => {
  await using system = await runSystem(
    {
      sluggish: appService("sluggish", {
        env: { START_DELAY_MS: "5000" },
        onDemand: { idleMs: 60_000 },
      }),
    },
    { coldStartTimeoutMs: 1000 },
  );
  const replies = await Promise.all(
    Array.from({ length: 20 }, () => get(system.client, "sluggish.localhost", "/pid")),
  );
  for (const reply of replies) assert.equal(reply.status, 504, reply.body);
});
