import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { mutate, mutations } from "./mutations.ts";

test("mutate sets, inserts and deletes at positions taken modulo the length plus one", () => {
  const bytes = Buffer.from("abc");
  assert.equal(mutate(bytes, [{ op: "set", at: 1, byte: 0x78 }]).toString(), "axc");
  assert.equal(mutate(bytes, [{ op: "insert", at: 3, byte: 0x78 }]).toString(), "abcx");
  assert.equal(mutate(bytes, [{ op: "delete", at: 4, byte: 0 }]).toString(), "bc");
  // Setting past the end sets the last byte; the input is left as it was.
  assert.equal(mutate(bytes, [{ op: "set", at: 3, byte: 0x78 }]).toString(), "abx");
  assert.equal(bytes.toString(), "abc");
});

test("each mutation changes the length by at most one", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 32 }),
      mutations([0x0d], 4),
      (array, edits) => {
        const bytes = Buffer.from(array);
        const out = mutate(bytes, edits);
        assert.ok(Math.abs(out.length - bytes.length) <= edits.length);
        assert.ok(edits.length >= 1 && edits.length <= 4);
      },
    ),
  );
});
