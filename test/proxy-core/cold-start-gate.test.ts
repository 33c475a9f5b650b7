import assert from "node:assert/strict";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { ColdStartGate } from "../../src/proxy/core/cold-start-gate.ts";
import type { Resolver, Result } from "../../src/proxy/core/resolver.ts";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";

test("a first waiter that has already given up leaves no unhandled rejection when the wake fails", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on("unhandledRejection", onUnhandled);
  try {
    let wakeCalled!: () => void;
    const woken = new Promise<void>((resolve) => {
      wakeCalled = resolve;
    });
    const asleep: Result = { endpoint: "127.0.0.1:1", asleep: true };
    const resolver: Resolver = {
      resolve: () => asleep,
      wake: async () => {
        wakeCalled();
        throw new Error("the service cannot start");
      },
    };
    const gate = new ColdStartGate({}, resolver, async () => false);
    await assert.rejects(
      gate.wait("svc", asleep, { protocol: "tcp" }, AbortSignal.abort()),
      (error) => error instanceof ResolverError && error.reason === "cold_start_failed",
    );
    await woken;
    // Unhandled rejections are reported once the microtasks have run.
    for (let turn = 0; turn < 5; turn += 1) await nextTurn();
    assert.deepEqual(unhandled, []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});
