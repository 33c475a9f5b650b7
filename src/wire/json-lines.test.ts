import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { splitAt } from "../../test/support/chunks.ts";
import { JsonMessageSplitter, LineTooLongError } from "./json-lines.ts";

function split(chunks: (string | Buffer)[], maxBytes = 1 << 20): string[] {
  const splitter = new JsonMessageSplitter(maxBytes);
  const messages: string[] = [];
  for (const chunk of chunks) {
    splitter.push(Buffer.from(chunk), (message) => messages.push(message.toString()));
  }
  return messages;
}

test("a message ends at a newline or at the brace closing its object", () => {
  assert.deepEqual(split(['{"a":1}\n{"b":2}\n']), ['{"a":1}', '{"b":2}']);
  assert.deepEqual(split(['{"a":1}']), ['{"a":1}']);
  assert.deepEqual(split(['{"a":"}{\\"}"}', ' {"b":[{}]}']), ['{"a":"}{\\"}"}', '{"b":[{}]}']);
});

test("a non-object line runs to its newline", () => {
  assert.deepEqual(split(["[1,2]\nnot json\n"]), ["[1,2]", "not json"]);
});

test("any sequence of objects comes out whole, however the stream is cut", () => {
  fc.assert(
    fc.property(
      fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { maxLength: 8 }),
      fc.boolean(),
      fc.array(fc.nat()),
      (objects, newlines, offsets) => {
        const text = objects
          .map((object) => JSON.stringify(object) + (newlines ? "\n" : ""))
          .join("");
        const chunks = splitAt(Buffer.from(text), offsets);
        const expected = objects.map((object) => JSON.parse(JSON.stringify(object)));
        assert.deepEqual(
          split(chunks).map((message) => JSON.parse(message)),
          expected,
        );
      },
    ),
  );
});

test("random bytes never throw anything but LineTooLongError", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      try {
        split(
          chunks.map((chunk) => Buffer.from(chunk)),
          100,
        );
      } catch (error) {
        assert.ok(error instanceof LineTooLongError);
      }
    }),
  );
});

test("a message over the limit is refused, also before its end arrives", () => {
  assert.throws(() => split([`{"a":"${"x".repeat(100)}"}`], 50), LineTooLongError);
  assert.throws(() => split([`{"a":"${"x".repeat(100)}`], 50), LineTooLongError);
});
