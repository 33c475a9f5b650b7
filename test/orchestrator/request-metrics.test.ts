import assert from "node:assert/strict";
import { test } from "node:test";
import { RequestMetrics, summarizeRequests } from "../../src/orchestrator/request-metrics.ts";

test("instances' figures sum up; p99 is the bucket holding the 99th percentile", async () => {
  const a = new RequestMetrics("users");
  const b = new RequestMetrics("users");
  for (let i = 0; i < 98; i += 1) a.record(0.2, false);
  b.record(40, true);
  b.record(40, false);
  const summary = summarizeRequests([
    await a.registry.getMetricsAsJSON(),
    await b.registry.getMetricsAsJSON(),
  ]);
  assert.equal(summary.requests, 100);
  assert.equal(summary.errors, 1);
  assert.ok(Math.abs(summary.averageMs! - (98 * 0.2 + 80) / 100) < 1e-9);
  assert.equal(summary.p99Ms, 50);
});

test("no requests yet: no average, no p99", async () => {
  const metrics = new RequestMetrics("idle");
  assert.deepEqual(summarizeRequests([await metrics.registry.getMetricsAsJSON()]), {
    requests: 0,
    errors: 0,
    averageMs: undefined,
    p99Ms: undefined,
  });
});
