// The orchestrator's Resolver against a running orchestrator whose services
// are real processes: host names, answers per service state, wake-ups,
// activity and the choice among instances.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually, runOrchestrator } from "../../test/orchestrator/harness.ts";
import { app, broken } from "../../test/system/harness.ts";
import { ResolverError } from "../proxy/core/index.ts";
import { OrchestratorResolver } from "./orchestrator-resolver.ts";

function service(name: string, extra: Record<string, unknown> = {}) {
  return { entry: app, env: { FIXTURE_NAME: name }, ...extra };
}

function rejection(code: string, retryAfterMs?: number) {
  return (error: unknown) =>
    error instanceof ResolverError &&
    error.code === code &&
    (retryAfterMs === undefined || error.retryAfterMs === retryAfterMs);
}

test("hosts: <service>.localhost, configured names, and nothing else", async () => {
  await using run = await runOrchestrator({ services: { users: service("users") } });
  const socketDir = run.orchestrator.config.socketDir;
  const services = run.orchestrator.supervisors;
  const resolver = new OrchestratorResolver({
    services,
    socketDir,
    hosts: { "API.Example.test": "users" },
  });
  const endpoint = `unix:${join(socketDir, "users.sock")}`;
  assert.deepEqual(resolver.resolve("users.localhost"), { endpoint });
  assert.deepEqual(resolver.resolve("api.example.test"), { endpoint });
  assert.deepEqual(resolver.hostsOf("users"), ["api.example.test", "users.localhost"]);
  for (const host of [
    "nobody.localhost",
    "users",
    "x.users.localhost",
    "localhost",
    ".localhost",
  ]) {
    assert.throws(() => resolver.resolve(host), rejection("NOT_FOUND"), host);
  }
  const custom = new OrchestratorResolver({ services, socketDir, domain: "nexus.test" });
  assert.deepEqual(custom.resolve("users.nexus.test"), { endpoint });
  assert.throws(() => custom.resolve("users.localhost"), rejection("NOT_FOUND"));
  const only = new OrchestratorResolver({ services, socketDir, domain: false });
  assert.throws(() => only.resolve("users.localhost"), rejection("NOT_FOUND"));
  assert.throws(
    () => new OrchestratorResolver({ services, socketDir, hosts: { "a.test": "nobody" } }),
    /host a\.test names an unknown service "nobody"/,
  );
});

test("a sleeping service answers asleep; wake starts it once and it answers awake", async () => {
  await using run = await runOrchestrator({
    services: { lazy: service("lazy", { onDemand: { idleMs: 60_000 } }) },
  });
  const { supervisors, config } = run.orchestrator;
  const resolver = new OrchestratorResolver({
    services: supervisors,
    socketDir: config.socketDir,
    hosts: { "lazy.example.test": "lazy" },
  });
  const endpoint = `unix:${join(config.socketDir, "lazy.sock")}`;
  const asleep = resolver.resolve("lazy.localhost");
  assert.deepEqual(asleep, { endpoint, asleep: true });
  // Two hosts of one service woken at once share one start.
  await Promise.all([resolver.wake("lazy.localhost"), resolver.wake("lazy.example.test")]);
  assert.equal(supervisors.get("lazy")!.status, "running");
  assert.deepEqual(resolver.resolve("lazy.localhost"), { endpoint });
  assert.equal(supervisors.get("lazy")!.coldStarts, 1);
  assert.equal(resolver.getStats()["lazy.status"], "running");
  assert.equal(run.orchestrator.status()[0]!.instances.length, 1);
});

test("a service that failed to wake is unavailable, with a long Retry-After", async () => {
  await using run = await runOrchestrator({
    services: {
      doomed: { entry: broken, restart: { policy: "never" }, onDemand: { idleMs: 60_000 } },
    },
  });
  const { supervisors, config } = run.orchestrator;
  const resolver = new OrchestratorResolver({ services: supervisors, socketDir: config.socketDir });
  await assert.rejects(resolver.wake("doomed.localhost"), /failed to start/);
  assert.equal(supervisors.get("doomed")!.status, "errored");
  assert.throws(() => resolver.resolve("doomed.localhost"), rejection("UNAVAILABLE", 30_000));
});

test("trackActivity keeps an on-demand service awake without requests", async () => {
  await using run = await runOrchestrator({
    services: { lazy: service("lazy", { onDemand: { idleMs: 1500 } }) },
  });
  const supervisor = run.orchestrator.supervisors.get("lazy")!;
  const resolver = new OrchestratorResolver({
    services: run.orchestrator.supervisors,
    socketDir: run.orchestrator.config.socketDir,
  });
  await resolver.wake("lazy.localhost");
  // Twice its idle time with activity reported every 200 ms and no request at all.
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    resolver.trackActivity("lazy.localhost");
    assert.equal(supervisor.status, "running");
    await sleep(200);
  }
  await eventually("the idle stop once activity ends", () => supervisor.status === "sleeping");
});

test("connections go to the instance the proxy holds the fewest connections to", async () => {
  await using run = await runOrchestrator({
    services: { multi: service("multi", { instances: 2 }) },
  });
  const resolver = new OrchestratorResolver({
    services: run.orchestrator.supervisors,
    socketDir: run.orchestrator.config.socketDir,
  });
  const first = resolver.resolve("multi.localhost");
  resolver.onConnect("multi.localhost", first);
  const second = resolver.resolve("multi.localhost");
  assert.notEqual(second.endpoint, first.endpoint);
  resolver.onConnect("multi.localhost", second);
  resolver.onConnect("multi.localhost", second);
  assert.equal(resolver.resolve("multi.localhost").endpoint, first.endpoint);
  resolver.onDisconnect("multi.localhost", second);
  resolver.onDisconnect("multi.localhost", second);
  assert.equal(resolver.resolve("multi.localhost").endpoint, second.endpoint);
});
