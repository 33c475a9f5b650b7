import assert from "node:assert/strict";
import { test } from "node:test";
import { RestartPolicy } from "../../src/orchestrator/restart-policy.ts";

const rules = { policy: "on-failure", maxRestarts: 100, windowMs: 60_000 } as const;

function delays(policy: RestartPolicy, count: number, uptimeMs = 10): number[] {
  return Array.from({ length: count }, (_, i) => {
    const decision = policy.afterExit(true, uptimeMs, i);
    assert.equal(decision.action, "restart");
    return decision.action === "restart" ? decision.delayMs : -1;
  });
}

test("delays grow ×1.5 up to 15 s", () => {
  const seen = delays(new RestartPolicy(rules), 14);
  assert.deepEqual(seen.slice(0, 4), [100, 150, 225, 337.5]);
  assert.equal(seen.at(-1), 15_000);
  assert.ok(seen.every((d) => d <= 15_000));
});

test("an instance that stayed up 30 s starts again from the first delay", () => {
  const policy = new RestartPolicy(rules);
  delays(policy, 5);
  assert.deepEqual(policy.afterExit(true, 30_000, 10), { action: "restart", delayMs: 100 });
});

test("too many restarts in the window is a crash loop; older ones fall out of it", () => {
  const policy = new RestartPolicy({ policy: "always", maxRestarts: 3, windowMs: 1000 });
  for (const at of [0, 10, 20]) assert.equal(policy.afterExit(true, 1, at).action, "restart");
  assert.deepEqual(policy.afterExit(true, 1, 30), {
    action: "crash-loop",
    reason: "exited 4 times within 1000 ms",
  });
  assert.equal(policy.afterExit(true, 1, 1015).action, "restart");
});

test("policies: never stays down, on-failure ignores a clean exit, always restarts it", () => {
  assert.equal(
    new RestartPolicy({ ...rules, policy: "never" }).afterExit(true, 1).action,
    "stay-down",
  );
  assert.equal(new RestartPolicy(rules).afterExit(false, 1).action, "stay-down");
  assert.equal(
    new RestartPolicy({ ...rules, policy: "always" }).afterExit(false, 1).action,
    "restart",
  );
});
