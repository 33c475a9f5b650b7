import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  type CommandLine,
  CommandLineReader,
  formatReply,
  ReplyReader,
  type SmtpReply,
  SmtpReplyError,
} from "../../src/proxy/smtp/index.ts";
import { splitAt } from "../support/chunks.ts";

function readAll(reader: CommandLineReader, parts: Buffer[]): (string | "too_long")[] {
  const out: (string | "too_long")[] = [];
  for (const part of parts) {
    reader.push(part);
    for (let line: CommandLine | undefined = reader.next(); line; line = reader.next()) {
      out.push(line.kind === "line" ? line.text : "too_long");
    }
  }
  return out;
}

const reply: fc.Arbitrary<SmtpReply> = fc.record(
  {
    code: fc.integer({ min: 200, max: 599 }),
    lines: fc.array(fc.stringMatching(/^[\x20-\x7e]{0,60}$/), { minLength: 1, maxLength: 5 }),
  },
  { noNullPrototype: true },
);

describe("CommandLineReader", () => {
  test("CRLF and bare LF end lines; the rest stays for the backend", () => {
    const reader = new CommandLineReader(100);
    const lines = readAll(reader, [Buffer.from("EHLO a.test\r\nNOOP\nDATA\r\npartial")]);
    assert.deepEqual(lines, ["EHLO a.test", "NOOP", "DATA"]);
    assert.equal(reader.takeRest().toString(), "partial");
  });

  test("a line over the limit is reported once, at its end, and reading goes on", () => {
    const reader = new CommandLineReader(10);
    const lines = readAll(reader, [
      Buffer.from("NOOP\r\n"),
      Buffer.alloc(50, 0x41),
      Buffer.from("AA\r\nQUIT\r\n"),
    ]);
    assert.deepEqual(lines, ["NOOP", "too_long", "QUIT"]);
    assert.deepEqual(readAll(new CommandLineReader(10), [Buffer.from("12345678901\r\n")]), [
      "too_long",
    ]);
    assert.deepEqual(readAll(new CommandLineReader(10), [Buffer.from("12345678\r\n")]), [
      "12345678",
    ]);
  });

  test("how bytes are split into chunks never changes the lines (property)", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (bytes, cuts) => {
          const data = Buffer.from(bytes);
          const whole = readAll(new CommandLineReader(40), [data]);
          assert.deepEqual(readAll(new CommandLineReader(40), splitAt(data, cuts)), whole);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("ReplyReader", () => {
  test("formatted replies read back whole, however they are split (property)", () => {
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (replies, cuts) => {
          const bytes = Buffer.from(replies.map(formatReply).join(""), "latin1");
          const reader = new ReplyReader();
          const read = splitAt(bytes, cuts).flatMap((part) => reader.push(part));
          assert.deepEqual(read, replies);
          assert.equal(reader.buffered.length, 0);
        },
      ),
    );
  });

  test("a line of the code alone ends its reply, however it is split (property)", () => {
    // RFC 5321 §4.2: Reply-code [ SP textstring ] CRLF.
    assert.deepEqual(new ReplyReader().push(Buffer.from("250\r\n")), [{ code: 250, lines: [""] }]);
    assert.deepEqual(new ReplyReader().push(Buffer.from("250-a.test\n250\n")), [
      { code: 250, lines: ["a.test", ""] },
    ]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(reply, fc.boolean()), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (entries, cuts) => {
          // A bare reply: its lines as continuations, then the code alone.
          const bareReply = (r: SmtpReply) =>
            `${r.lines.map((line) => `${r.code}-${line}\r\n`).join("")}${r.code}\r\n`;
          const text = entries.map(([r, bare]) => (bare ? bareReply(r) : formatReply(r))).join("");
          const replies = entries.map(([r, bare]) =>
            bare ? { ...r, lines: [...r.lines, ""] } : r,
          );
          const reader = new ReplyReader();
          const read = splitAt(Buffer.from(text, "latin1"), cuts).flatMap((part) =>
            reader.push(part),
          );
          assert.deepEqual(read, replies);
          assert.equal(reader.partial, false);
        },
      ),
    );
  });

  test("malformed replies are a SmtpReplyError, never a crash (property)", () => {
    assert.throws(() => new ReplyReader().push(Buffer.from("hello\r\n")), SmtpReplyError);
    assert.throws(() => new ReplyReader().push(Buffer.from("250-a\r\n251 b\r\n")), SmtpReplyError);
    assert.throws(() => new ReplyReader().push(Buffer.alloc(5000, 0x32)), SmtpReplyError);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          for (const r of new ReplyReader().push(Buffer.from(bytes)))
            assert.ok(r.code >= 200 && r.code < 600);
        } catch (error) {
          assert.ok(error instanceof SmtpReplyError, String(error));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
