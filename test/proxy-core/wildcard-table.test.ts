import assert from "node:assert/strict";
import { test } from "node:test";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";
import { StaticResolver } from "../../src/proxy/core/static-resolver.ts";
import { WildcardTable } from "../../src/proxy/core/wildcard-table.ts";

test("the most specific key wins: exact, longest wildcard, then *", () => {
  const table = new WildcardTable({
    "api.example.com": "127.0.0.1:1",
    "*.example.com": "127.0.0.1:2",
    "*.eu.example.com": "127.0.0.1:3",
    "*": "127.0.0.1:4",
  });
  const endpoint = (key: string) => table.lookup(key)?.endpoint;
  assert.equal(endpoint("API.example.com"), "127.0.0.1:1");
  assert.equal(endpoint("www.example.com"), "127.0.0.1:2");
  assert.equal(endpoint("a.b.example.com"), "127.0.0.1:2");
  assert.equal(endpoint("shop.eu.example.com"), "127.0.0.1:3");
  assert.equal(endpoint("x.shop.eu.example.com"), "127.0.0.1:3");
  assert.equal(endpoint("eu.example.com"), "127.0.0.1:2");
  assert.equal(endpoint("example.com"), "127.0.0.1:4", "a wildcard does not match its own suffix");
  assert.equal(endpoint("other.org"), "127.0.0.1:4");
  assert.equal(table.size, 4);
});

test("without a catch-all an unknown key has no route", () => {
  const table = new WildcardTable({ "*.example.com": "127.0.0.1:2" });
  assert.equal(table.lookup("example.org"), undefined);
  assert.equal(table.lookup("badexample.com"), undefined);
});

test("a star anywhere but at the start of a key is refused", () => {
  assert.throws(() => new WildcardTable({ "api.*.com": "127.0.0.1:1" }), TypeError);
  assert.throws(() => new WildcardTable({ "*.*.com": "127.0.0.1:1" }), TypeError);
});

test("the static resolver uses wildcards and answers NOT_FOUND otherwise", () => {
  const resolver = new StaticResolver({
    "*.example.com": { endpoint: "127.0.0.1:2", timeout: 100 },
  });
  assert.deepEqual(resolver.resolve("a.example.com"), { endpoint: "127.0.0.1:2", timeout: 100 });
  assert.throws(
    () => resolver.resolve("example.org"),
    (error) => error instanceof ResolverError && error.code === "NOT_FOUND",
  );
});
