import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  EndpointSyntaxError,
  formatEndpoint,
  parseEndpoint,
  resultEndpoint,
} from "../../src/proxy/core/endpoint.ts";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";

test("endpoints are read in their three forms", () => {
  assert.deepEqual(parseEndpoint("db.internal:5432"), {
    kind: "tcp",
    host: "db.internal",
    port: 5432,
  });
  assert.deepEqual(parseEndpoint("[::1]:8080"), { kind: "tcp", host: "::1", port: 8080 });
  assert.deepEqual(parseEndpoint("unix:/run/app.sock"), { kind: "unix", path: "/run/app.sock" });
  for (const bad of [
    "host",
    ":80",
    "h:0",
    "h:65536",
    "h:8o",
    "::1:80",
    "[::1]80",
    "[x]:80",
    "unix:rel",
    "unix:/a\0b",
  ]) {
    assert.throws(() => parseEndpoint(bad), EndpointSyntaxError, bad);
  }
});

test("a malformed endpoint in a resolver answer is an INTERNAL ResolverError", () => {
  assert.throws(
    () => resultEndpoint({ endpoint: "nowhere" }),
    (error) => error instanceof ResolverError && error.code === "INTERNAL",
  );
});

test("property: any string parses or fails with EndpointSyntaxError; parsed ones round-trip", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.stringMatching(/^(unix:)?[[\]0-9a-f:./]{0,30}$/)),
      (text) => {
        let endpoint: ReturnType<typeof parseEndpoint>;
        try {
          endpoint = parseEndpoint(text);
        } catch (error) {
          assert.ok(error instanceof EndpointSyntaxError);
          return;
        }
        assert.deepEqual(parseEndpoint(formatEndpoint(endpoint)), endpoint);
      },
    ),
    { numRuns: 3000 },
  );
});
