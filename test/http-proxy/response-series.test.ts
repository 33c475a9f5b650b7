import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { HttpMetrics } from "../../src/proxy/http/index.ts";

test("answered requests appear as Prometheus counts by status and a cumulative duration histogram", async () => {
  const registry = new Registry();
  const metrics = new HttpMetrics(registry);
  metrics.responses.record("a.test", "127.0.0.1:1", 200, 0.001); // on a bound: counted in it (le)
  metrics.responses.record("a.test", "127.0.0.1:1", 200, 0.003);
  metrics.responses.record("a.test", "127.0.0.1:1", 502, 20); // past the last bound
  metrics.responses.record("b.test", "127.0.0.1:2", 404, 0.0001);
  const text = await registry.metrics();
  const line = (name: string, labels: string) =>
    text
      .split("\n")
      .find((l) => l.startsWith(`${name}{${labels}}`))
      ?.split(" ")[1];
  const a = 'route="a.test",backend="127.0.0.1:1"';
  assert.equal(line("nexus_http_requests_total", `${a},status="200"`), "2");
  assert.equal(line("nexus_http_requests_total", `${a},status="502"`), "1");
  assert.equal(
    line("nexus_http_requests_total", 'route="b.test",backend="127.0.0.1:2",status="404"'),
    "1",
  );
  const bucket = "nexus_http_request_duration_seconds_bucket";
  assert.equal(line(bucket, `${a},le="0.0005"`), "0");
  assert.equal(line(bucket, `${a},le="0.001"`), "1");
  assert.equal(line(bucket, `${a},le="0.005"`), "2");
  assert.equal(line(bucket, `${a},le="10"`), "2");
  assert.equal(line(bucket, `${a},le="+Inf"`), "3");
  assert.equal(line("nexus_http_request_duration_seconds_count", a), "3");
  assert.equal(Number(line("nexus_http_request_duration_seconds_sum", a)), 20.004);
  assert.match(text, /# TYPE nexus_http_request_duration_seconds histogram/);

  registry.resetMetrics();
  assert.doesNotMatch(await registry.metrics(), /a\.test/);
});
