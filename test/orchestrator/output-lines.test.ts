import assert from "node:assert/strict";
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import fc from "fast-check";
import { forEachLine } from "../../src/orchestrator/output-lines.ts";

async function linesOf(chunks: readonly Buffer[], maxChars: number): Promise<string[]> {
  const stream = new PassThrough();
  const lines: string[] = [];
  forEachLine(stream, (line) => lines.push(line), maxChars);
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await once(stream, "end");
  return lines;
}

test("lines come out whole however the bytes are chunked, and long ones are cut", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(fc.string({ unit: "grapheme" }), fc.constantFrom("\n", "\r\n")), {
        maxLength: 30,
      }),
      fc.array(fc.nat({ max: 40 }), { maxLength: 10 }),
      fc.integer({ min: 4, max: 50 }),
      async (pieces, cuts, maxChars) => {
        const text = pieces.join("");
        const bytes = Buffer.from(text);
        const chunks: Buffer[] = [];
        let at = 0;
        for (const cut of cuts) {
          chunks.push(bytes.subarray(at, at + cut));
          at += cut;
        }
        chunks.push(bytes.subarray(at));
        const lines = await linesOf(chunks, maxChars);
        assert.ok(lines.every((line) => line.length <= maxChars && line.isWellFormed()));
        // Nothing lost or added but line ends (a CR before a newline goes with it).
        const withoutEnds = (t: string) => t.replace(/\r?\n/g, "").replaceAll("\r", "");
        assert.equal(withoutEnds(lines.join("")), withoutEnds(text));
        if (!text.includes("\r")) {
          const whole = text.split("\n").filter((line, i, all) => line || i < all.length - 1);
          assert.ok(lines.length >= whole.length);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("examples: CRLF, a last line without newline, a line cut in pieces", async () => {
  const chunks = [Buffer.from("one\r\ntw"), Buffer.from("o\nabcdefghij"), Buffer.from("klm")];
  assert.deepEqual(await linesOf(chunks, 5), ["one", "two", "abcde", "fghij", "klm"]);
});
