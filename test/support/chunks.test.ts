import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { splitAt } from "./chunks.ts";

test("splitAt cuts at each distinct point, modulo the length plus one", () => {
  const bytes = Buffer.from("abcdef");
  assert.deepEqual(
    splitAt(bytes, [4, 2, 2, 10]).map((piece) => piece.toString()),
    ["ab", "c", "d", "ef"],
  );
  assert.deepEqual(
    splitAt(bytes, []).map((piece) => piece.toString()),
    ["abcdef"],
  );
  assert.deepEqual(
    splitAt(bytes, [0, 6]).map((piece) => piece.toString()),
    ["", "abcdef", ""],
  );
});

test("splitAt's pieces always join back to the input", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat()), (array, cuts) => {
      const bytes = Buffer.from(array);
      const pieces = splitAt(bytes, cuts);
      assert.deepEqual(Buffer.concat(pieces), bytes);
      assert.equal(pieces.length, new Set(cuts.map((cut) => cut % (bytes.length + 1))).size + 1);
    }),
  );
});
