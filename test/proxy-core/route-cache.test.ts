import assert from "node:assert/strict";
import { test } from "node:test";
import { unknownRoute } from "../../src/proxy/core/resolver-error.ts";
import { RouteCache } from "../../src/proxy/core/route-cache.ts";

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test("answers live for the TTL", () => {
  const time = clock();
  const cache = new RouteCache({ ttlMs: 1000, now: time.now });
  cache.set("a", { endpoint: "127.0.0.1:1" });
  time.advance(999);
  assert.deepEqual(cache.get("a"), { result: { endpoint: "127.0.0.1:1" } });
  time.advance(1);
  assert.equal(cache.get("a"), undefined);
  assert.equal(cache.size, 0);
});

test("NOT_FOUND answers live for the shorter negative TTL", () => {
  const time = clock();
  const cache = new RouteCache({ ttlMs: 1000, negativeTtlMs: 100, now: time.now });
  const error = unknownRoute("nope");
  cache.setNotFound("nope", error);
  assert.equal(cache.get("nope")?.error, error);
  time.advance(100);
  assert.equal(cache.get("nope"), undefined);
  const off = new RouteCache({ negativeTtlMs: 0, now: time.now });
  off.setNotFound("nope", error);
  assert.equal(off.get("nope"), undefined);
});

test("the least recently used key leaves first when full", () => {
  const cache = new RouteCache({ maxEntries: 2 });
  cache.set("a", { endpoint: "127.0.0.1:1" });
  cache.set("b", { endpoint: "127.0.0.1:2" });
  cache.get("a"); // a is now the most recent
  cache.set("c", { endpoint: "127.0.0.1:3" });
  assert.equal(cache.size, 2);
  assert.equal(cache.get("b"), undefined);
  assert.ok(cache.get("a"));
  assert.ok(cache.get("c"));
});

test("delete and clear forget answers", () => {
  const cache = new RouteCache();
  cache.set("a", { endpoint: "127.0.0.1:1" });
  cache.set("b", { endpoint: "127.0.0.1:2" });
  cache.delete("a");
  assert.equal(cache.get("a"), undefined);
  cache.clear();
  assert.equal(cache.size, 0);
});
