import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { BackendRouter } from "../../src/proxy/core/backend-router.ts";
import { ProxyMetrics } from "../../src/proxy/core/proxy-metrics.ts";
import { StaticResolver } from "../../src/proxy/core/static-resolver.ts";
import { rejection } from "./harness.ts";

test("routers given one registry share its metrics instead of clashing", async () => {
  const registry = new Registry();
  const first = new BackendRouter({
    resolver: new StaticResolver({ a: "127.0.0.1:1" }),
    metrics: registry,
  });
  const second = new BackendRouter({ resolver: new StaticResolver({}), metrics: registry });
  await first.route("a", { protocol: "http" });
  await rejection(second.route("b", { protocol: "http" }));
  const text = await registry.metrics();
  assert.match(text, /nexus_proxy_resolutions_total\{outcome="ok"\} 1/);
  assert.match(text, /nexus_proxy_resolutions_total\{outcome="NOT_FOUND"\} 1/);
  assert.match(text, /nexus_proxy_route_cache_lookups_total\{result="miss"\} 2/);
});

test("each router has a registry of its own unless given one", () => {
  const a = new BackendRouter({ resolver: new StaticResolver({}) });
  const b = new BackendRouter({ resolver: new StaticResolver({}) });
  assert.notEqual(a.metrics.registry, b.metrics.registry);
  const shared = new ProxyMetrics();
  const c = new BackendRouter({ resolver: new StaticResolver({}), metrics: shared });
  assert.equal(c.metrics, shared);
});

test("breaker states are exported as numbers per backend", async () => {
  const metrics = new ProxyMetrics();
  metrics.setBreakerState("127.0.0.1:1", "open");
  metrics.setBreakerState("127.0.0.1:2", "half_open");
  const text = await metrics.registry.metrics();
  assert.match(text, /nexus_proxy_breaker_state\{backend="127.0.0.1:1"\} 1/);
  assert.match(text, /nexus_proxy_breaker_state\{backend="127.0.0.1:2"\} 2/);
});
