// A rolling reload while requests flow through the proxy: the new process
// takes the socket over, the old one finishes what it has, and no request
// fails.
import assert from "node:assert/strict";
import { test } from "node:test";
import { underConstantLoad } from "../orchestrator/harness.ts";
import { appService, get, pidOf, runSystem } from "./harness.ts";

for (const instances of [1, 2]) {
  test(`a reload of a ${instances}-instance service during traffic fails no request`, async () => {
    await using system = await runSystem({ users: appService("users", { instances }) });
    const before = await system.starts();
    const served = new Set<number>();
    const outcome = await underConstantLoad(
      async () => served.add(pidOf(await get(system.client, "users.localhost", "/slow/5"))),
      () => system.orchestrator.reload("users"),
    );
    assert.deepEqual(outcome.failures, []);
    const after = await system.starts();
    assert.equal(after.length, 2 * instances, "every instance was replaced once");
    const fresh = after.filter((pid) => !before.includes(pid));
    assert.ok(
      fresh.some((pid) => served.has(pid)),
      "requests reached the new processes after the reload",
    );
  });
}
