import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { routingKeyFromHost } from "../../src/proxy/http/index.ts";

test("the routing key is the lower-cased host without its port", () => {
  assert.equal(routingKeyFromHost("Example.COM"), "example.com");
  assert.equal(routingKeyFromHost("example.com:8080"), "example.com");
  assert.equal(routingKeyFromHost("example.com:"), "example.com");
  assert.equal(routingKeyFromHost("example.com."), "example.com");
  assert.equal(routingKeyFromHost("127.0.0.1:80"), "127.0.0.1");
  assert.equal(routingKeyFromHost("[::1]:80"), "::1");
  assert.equal(routingKeyFromHost("[2001:DB8::1]"), "2001:db8::1");
});

test("missing and malformed hosts have no routing key", () => {
  for (const bad of [
    undefined,
    "",
    ".",
    "a b",
    "a/b",
    "a@b",
    "a:b",
    "a:123456",
    "a:65536",
    "a:99999",
    "[::1]:70000",
    "[::1",
    "[nope]",
    "[::1]x",
    "[::1]:x",
    "x".repeat(2000),
  ]) {
    assert.equal(routingKeyFromHost(bad), undefined, JSON.stringify(bad));
  }
});

test("any string yields undefined or a lower-case key without port, never a throw", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300, unit: "binary" }), (text) => {
      const key = routingKeyFromHost(text);
      if (key === undefined) return;
      assert.equal(key, key.toLowerCase());
      assert.ok(key.length > 0);
      assert.match(key, /^[a-z0-9\-._~!$&'()*+,;=%:]+$/);
    }),
    { numRuns: 2000 },
  );
});

test("a valid name with any port maps to the name, in any letter case", () => {
  const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
  fc.assert(
    fc.property(
      fc.array(label, { minLength: 1, maxLength: 4 }),
      fc.option(fc.integer({ min: 0, max: 65535 })),
      fc.boolean(),
      (labels, port, upper) => {
        const name = labels.join(".");
        const spelled = upper ? name.toUpperCase() : name;
        const host = port === null ? spelled : `${spelled}:${port}`;
        assert.equal(routingKeyFromHost(host), name);
      },
    ),
  );
});

test("truncated bracketed addresses are refused", () => {
  const full = "[2001:db8::42]:8443";
  for (let i = 1; i < full.length; i++) {
    const key = routingKeyFromHost(full.slice(0, i));
    if (i >= "[2001:db8::42]".length) assert.equal(key, "2001:db8::42");
    else assert.equal(key, undefined, full.slice(0, i));
  }
});
