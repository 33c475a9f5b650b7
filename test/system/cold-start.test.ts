// A sleeping on-demand service behind the proxy: the first requests wake it
// once, wait, and are all served by the one process that started.
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadOrCreateToken, tokenPathFor } from "../../src/security/index.ts";
import { appService, get, pidOf, runSystem } from "./harness.ts";

test("200 concurrent first requests to a sleeping service all succeed; it starts once", async () => {
  await using system = await runSystem({
    lazy: appService("lazy", {
      // A boot slow enough that every request arrives while it sleeps or starts.
      env: { START_DELAY_MS: "300" },
      onDemand: { idleMs: 60_000 },
    }),
  });
  const supervisor = system.orchestrator.supervisors.get("lazy")!;
  assert.equal(supervisor.status, "sleeping");

  const replies = await Promise.all(
    Array.from({ length: 200 }, () => get(system.client, "lazy.localhost", "/pid")),
  );

  const pids = new Set(replies.map(pidOf));
  const started = await system.starts();
  assert.equal(started.length, 1, "exactly one process started");
  assert.deepEqual([...pids], started, "every request was served by it");
  assert.equal(supervisor.status, "running");
  assert.equal(supervisor.coldStarts, 1);
  // Requests that waited for the wake-up say so.
  const waited = replies.filter((r) => r.headers["x-nexus-cold-start-ms"] !== undefined);
  assert.ok(waited.length > 0, "some requests carry x-nexus-cold-start-ms");
});

test("an awake service is routed by host; unknown hosts are 404; private routes need the token", async () => {
  await using system = await runSystem({ users: appService("users") });
  const reply = await get(system.client, "users.localhost:8080", "/pid");
  assert.equal(pidOf(reply), (await system.starts())[0]);
  assert.equal(reply.headers["x-nexus-cold-start-ms"], undefined);
  assert.equal((await get(system.client, "nobody.localhost", "/pid")).status, 404);
  // The service checks the caller's token itself; the proxy passes headers through.
  assert.equal((await get(system.client, "users.localhost", "/private")).status, 401);
  const token = await loadOrCreateToken(tokenPathFor(system.orchestrator.config.socketDir));
  const authorized = await get(system.client, "users.localhost", "/private", {
    authorization: `Bearer ${token}`,
  });
  assert.equal(authorized.status, 200, authorized.body);
});
