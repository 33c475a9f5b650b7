import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BackendRouter } from "../../src/proxy/core/backend-router.ts";
import type { ResolveContext, Resolver, Result } from "../../src/proxy/core/resolver.ts";
import { rejection } from "./harness.ts";

const pg: ResolveContext = { protocol: "postgres" };

/**
 * A scaled-to-zero service: asleep until woken; once woken it answers
 * awake at once, but its socket only listens `bootMs` later, as a real
 * process does while it starts.
 */
class SleepingService implements Resolver {
  wakes = 0;
  readonly path: string;
  readonly #dir: string;
  readonly #bootMs: number;
  #awake = false;
  #server: Server | undefined;
  #boot: NodeJS.Timeout | undefined;

  constructor(bootMs: number) {
    this.#dir = mkdtempSync(join(tmpdir(), "nexus-cold-"));
    this.path = join(this.#dir, "service.sock");
    this.#bootMs = bootMs;
  }

  resolve(): Result {
    return { endpoint: `unix:${this.path}`, asleep: !this.#awake };
  }

  wake(): void {
    this.wakes += 1;
    this.#awake = true;
    this.#boot = setTimeout(() => {
      this.#server = createServer((socket) => {
        socket.on("error", () => {}); // readiness probes hang up at once
        socket.end("ready");
      });
      this.#server.listen(this.path);
    }, this.#bootMs);
  }

  dispose(): void {
    clearTimeout(this.#boot);
    this.#server?.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

test("a sleeping backend is woken once and waiting connections are released in arrival order", async () => {
  const service = new SleepingService(1500);
  const router = new BackendRouter({ resolver: service, coldStart: { pollIntervalMs: 50 } });
  try {
    const released: number[] = [];
    const waiting = Array.from({ length: 10 }, (_, i) =>
      router.route("app", pg).then((route) => {
        released.push(i);
        return route;
      }),
    );
    const routes = await Promise.all(waiting);
    assert.equal(service.wakes, 1);
    assert.deepEqual(released, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const route of routes) {
      assert.equal(route.result.asleep, false);
      assert.ok(route.coldStartMs >= 1);
    }
    const socket = await router.connect(routes[0]!, pg);
    const [data] = (await once(socket, "data")) as [Buffer];
    assert.equal(data.toString(), "ready");

    const later = await router.route("app", pg);
    assert.equal(later.coldStartMs, 0, "an awake backend does not wait");
    assert.equal(later.cacheHit, true);
    const metrics = await router.metrics.registry.metrics();
    assert.match(metrics, /nexus_proxy_cold_starts_total\{outcome="ready"\} 10/);
    assert.match(metrics, /nexus_proxy_cold_start_wait_seconds_count 10/);
  } finally {
    await router.close();
    service.dispose();
  }
});

test("connections beyond the queue bound fail at once with queue_full", async () => {
  const service = new SleepingService(1000);
  const router = new BackendRouter({
    resolver: service,
    coldStart: { maxQueue: 3, pollIntervalMs: 50 },
  });
  try {
    let released = false;
    const queued = Array.from({ length: 3 }, () =>
      router.route("app", pg).then(() => {
        released = true;
      }),
    );
    const overflow = await rejection(router.route("app", pg));
    assert.equal(released, false, "the overflow fails before the backend is up");
    assert.equal(overflow.code, "UNAVAILABLE");
    assert.equal(overflow.reason, "queue_full");
    await Promise.all(queued);
    assert.equal(service.wakes, 1);
    const metrics = await router.metrics.registry.metrics();
    assert.match(metrics, /nexus_proxy_cold_starts_total\{outcome="queue_full"\} 1/);
  } finally {
    await router.close();
    service.dispose();
  }
});

test("a backend that does not wake in time fails every waiter with cold_start_timeout", async () => {
  const service = new SleepingService(3_600_000);
  const router = new BackendRouter({
    resolver: service,
    coldStart: { timeoutMs: 400, pollIntervalMs: 50 },
  });
  try {
    const errors = await Promise.all([
      rejection(router.route("app", pg)),
      rejection(router.route("app", pg)),
    ]);
    for (const error of errors) {
      assert.equal(error.code, "TIMEOUT");
      assert.equal(error.reason, "cold_start_timeout");
    }
    assert.equal(service.wakes, 1);
  } finally {
    await router.close();
    service.dispose();
  }
});

test("a resolver that never stops answering asleep times out too", async () => {
  let wakes = 0;
  const router = new BackendRouter({
    resolver: {
      resolve: () => ({ endpoint: "unix:/nonexistent/app.sock", asleep: true }),
      wake: () => {
        wakes += 1;
      },
    },
    coldStart: { timeoutMs: 300, pollIntervalMs: 20 },
  });
  const error = await rejection(router.route("app", pg));
  assert.equal(error.reason, "cold_start_timeout");
  assert.equal(wakes, 1);
});

test("a failing wake hook fails the waiters with cold_start_failed", async () => {
  const router = new BackendRouter({
    resolver: {
      resolve: () => ({ endpoint: "unix:/nonexistent/app.sock", asleep: true }),
      wake: async () => {
        throw new Error("quota exceeded");
      },
    },
  });
  const error = await rejection(router.route("app", pg));
  assert.equal(error.code, "UNAVAILABLE");
  assert.equal(error.reason, "cold_start_failed");
  // The next connection tries again rather than inheriting the failure.
  assert.equal((await rejection(router.route("app", pg))).reason, "cold_start_failed");
});

test("a waiter that gives up leaves the queue and frees its place", async () => {
  const service = new SleepingService(1000);
  const router = new BackendRouter({
    resolver: service,
    coldStart: { maxQueue: 2, pollIntervalMs: 50 },
  });
  try {
    const leaving = new AbortController();
    const staying = router.route("app", pg);
    const gone = rejection(router.route("app", pg, { signal: leaving.signal }));
    assert.equal((await rejection(router.route("app", pg))).reason, "queue_full");
    leaving.abort();
    assert.equal((await gone).code, "UNAVAILABLE");
    const joined = await router.route("app", pg);
    assert.ok(joined.coldStartMs >= 1);
    assert.ok((await staying).coldStartMs >= 1);
    assert.equal(service.wakes, 1);
  } finally {
    await router.close();
    service.dispose();
  }
});
