// Each resolver failure maps to the MySQL error a client expects.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ResolverError, type ResolverErrorReason } from "../../src/proxy/core/index.ts";
import { routeError } from "../../src/proxy/mysql/server-errors.ts";

test("resolver failures become MySQL error codes and SQLSTATEs", () => {
  const cases: [ResolverError["code"], ResolverErrorReason | undefined, number, string][] = [
    ["NOT_FOUND", "unknown_route", 1049, "42000"],
    ["FORBIDDEN", "blocked_address", 1044, "42000"],
    ["UNAVAILABLE", "backend_unreachable", 2003, "HY000"],
    ["UNAVAILABLE", "breaker_open", 2003, "HY000"],
    ["UNAVAILABLE", "queue_full", 1040, "08004"],
    ["TIMEOUT", "connect_timeout", 2003, "HY000"],
    ["TIMEOUT", "cold_start_timeout", 2003, "HY000"],
    ["INTERNAL", "resolver_failed", 1105, "HY000"],
  ];
  for (const [code, reason, expectedCode, sqlState] of cases) {
    const error = routeError(new ResolverError(code, "why", { reason }), "shop");
    assert.equal(error.code, expectedCode, `${code}/${reason}`);
    assert.equal(error.sqlState, sqlState, `${code}/${reason}`);
    assert.match(error.message, /shop|Too many connections/);
  }
  assert.equal(
    routeError(new ResolverError("NOT_FOUND", "no route"), "shop").message,
    "Unknown database 'shop'",
  );
});
