import assert from "node:assert/strict";
import { test } from "node:test";
import { compilePath } from "./service-client.ts";

test("path templates fill parameters, encoded, and the wildcard as a path", () => {
  assert.equal(compilePath("/health")(undefined), "/health");
  assert.equal(compilePath("/user/:id")({ id: "a b/c" }), "/user/a%20b%2Fc");
  assert.equal(compilePath("/org/:org/user/:id")({ org: "x", id: "1" }), "/org/x/user/1");
  assert.equal(compilePath("/files/*")({ "*": "a/b c.txt" }), "/files/a/b%20c.txt");
  assert.throws(() => compilePath("/user/:id")({}), /missing path parameter "id"/);
});
