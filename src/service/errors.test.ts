import assert from "node:assert/strict";
import { test } from "node:test";
import { ERROR_STATUS, errorFromWire, ServiceError } from "./errors.ts";

test("every code has its HTTP status", () => {
  assert.equal(new ServiceError("NOT_FOUND", "x").status, 404);
  assert.equal(new ServiceError("TIMEOUT", "x").status, 504);
  assert.equal(ERROR_STATUS.TOO_MANY_REQUESTS, 429);
});

test("the wire form carries code, message and details, never the cause", () => {
  const error = new ServiceError("BAD_REQUEST", "bad", {
    details: { a: 1 },
    cause: new Error("secret"),
  });
  assert.deepEqual(error.toWire(), { code: "BAD_REQUEST", message: "bad", details: { a: 1 } });
  assert.deepEqual(new ServiceError("FORBIDDEN", "no").toWire(), {
    code: "FORBIDDEN",
    message: "no",
  });
});

test("errors read from the wire keep known codes; anything else is INTERNAL", () => {
  const known = errorFromWire({ code: "CONFLICT", message: "taken", details: [1] });
  assert.equal(known.code, "CONFLICT");
  assert.equal(known.message, "taken");
  assert.deepEqual(known.details, [1]);
  assert.equal(errorFromWire({ code: "WHATEVER", message: "?" }).code, "INTERNAL");
  assert.equal(errorFromWire("junk").code, "INTERNAL");
  assert.equal(errorFromWire({ code: "toString" }).code, "INTERNAL");
});
