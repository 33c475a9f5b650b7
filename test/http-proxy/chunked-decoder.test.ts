import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { BackendProtocolError } from "../../src/proxy/http/backend/backend-errors.ts";
import { ChunkedDecoder as Decoder } from "../../src/proxy/http/chunked-decoder.ts";
import { splitAt } from "../support/chunks.ts";
import { mutate, mutations } from "../support/mutations.ts";

/** A decoder that fails the way the backend side does. */
const newDecoder = () => new Decoder((message) => new BackendProtocolError(message));

interface Decoded {
  data: Buffer;
  consumed: number;
  done: boolean;
}

/** Feeds `pieces` in order, stopping once the body ends, as a connection would. */
function decode(pieces: readonly Buffer[], decoder = newDecoder()): Decoded {
  const data: Buffer[] = [];
  let consumed = 0;
  for (const piece of pieces) {
    const used = decoder.push(piece, (bytes) => data.push(Buffer.from(bytes)));
    assert.ok(used >= 0 && used <= piece.length);
    consumed += used;
    if (decoder.done) break;
    assert.equal(used, piece.length, "stopped early without being done");
  }
  return { data: Buffer.concat(data), consumed, done: decoder.done };
}

function decodeText(text: string): Decoded {
  return decode([Buffer.from(text, "latin1")]);
}

function rejects(text: string, message: RegExp): void {
  assert.throws(
    () => decodeText(text),
    (error: unknown) => {
      assert.ok(error instanceof BackendProtocolError, String(error));
      assert.match(error.message, message);
      return true;
    },
  );
}

describe("ChunkedDecoder: chunks", () => {
  test("hex sizes in either case, the last chunk, and nothing read past it", () => {
    const body = "5\r\nhello\r\na\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n";
    const decoded = decodeText(`${body}HTTP/1.1 200 OK\r\n`);
    assert.equal(decoded.data.toString(), "hello0123456789abcdefghij");
    assert.equal(decoded.done, true);
    assert.equal(decoded.consumed, body.length);
    assert.deepEqual(
      decodeText(`1f\r\n${"x".repeat(31)}\r\n1F\r\n${"y".repeat(31)}\r\n0\r\n\r\n`).data.length,
      62,
    );
    assert.deepEqual(
      decodeText(`0000F\r\n${"z".repeat(15)}\r\n0\r\n\r\n`).data.toString(),
      "z".repeat(15),
    );
  });

  test("an empty body is the last chunk alone; 000 is a last chunk too", () => {
    assert.deepEqual(decodeText("0\r\n\r\n"), { data: Buffer.alloc(0), consumed: 5, done: true });
    assert.deepEqual(decodeText("000\r\n\r\nrest"), {
      data: Buffer.alloc(0),
      consumed: 7,
      done: true,
    });
  });

  test("not done until the final CRLF; done stays done and takes nothing more", () => {
    const decoder = newDecoder();
    const data: Buffer[] = [];
    assert.equal(
      decoder.push(Buffer.from("3\r\nabc\r\n0\r\n"), (d) => data.push(d)),
      11,
    );
    assert.equal(decoder.done, false);
    assert.equal(
      decoder.push(Buffer.from("\r"), (d) => data.push(d)),
      1,
    );
    assert.equal(decoder.done, false);
    assert.equal(
      decoder.push(Buffer.from("\nxyz"), (d) => data.push(d)),
      1,
    );
    assert.equal(decoder.done, true);
    assert.equal(
      decoder.push(Buffer.from("more"), () => assert.fail("data after the end")),
      0,
    );
    assert.equal(Buffer.concat(data).toString(), "abc");
  });

  test("chunk data is passed on as slices of the input, not copies", () => {
    const input = Buffer.from("4\r\ndata\r\n0\r\n\r\n");
    const slices: Buffer[] = [];
    newDecoder().push(input, (d) => slices.push(d));
    assert.equal(slices.length, 1);
    assert.equal(slices[0]!.buffer, input.buffer);
    assert.equal(slices[0]!.byteOffset, input.byteOffset + 3);
  });
});

describe("ChunkedDecoder: extensions and trailers", () => {
  test("extensions, with whitespace before the semicolon, are skipped", () => {
    const body = '3;name=value\r\nabc\r\n2 ;a;b="q;uoted"\r\nde\r\n1\t; x\r\nf\r\n0;last\r\n\r\n';
    const decoded = decodeText(body);
    assert.equal(decoded.data.toString(), "abcdef");
    assert.equal(decoded.consumed, body.length);
  });

  test("trailer fields are read and dropped", () => {
    const body = "3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Other:\t a b \r\nEmpty:\r\n\r\n";
    const decoded = decodeText(`${body}after`);
    assert.equal(decoded.data.toString(), "abc");
    assert.equal(decoded.consumed, body.length);
    assert.equal(decoded.done, true);
  });
});

describe("ChunkedDecoder: strictness", () => {
  test("bare LF anywhere in the framing is an error", () => {
    rejects("3\nabc\r\n0\r\n\r\n", /malformed/);
    rejects("3\r\nabc\n0\r\n\r\n", /malformed chunk framing/);
    rejects("3\r\nabc\r\n0\n\r\n", /malformed/);
    rejects("3\r\nabc\r\n0\r\n\n", /malformed trailer/);
    rejects("3\r\nabc\r\n0\r\nX: 1\n\r\n", /malformed trailer/);
    rejects("3;ext\nabc\r\n0\r\n\r\n", /malformed chunk extension/);
    rejects("3\rabc\r\n0\r\n\r\n", /malformed chunk framing/);
  });

  test("chunk data must be followed by CRLF, not more data", () => {
    rejects("3\r\nabcd\r\n0\r\n\r\n", /malformed chunk framing/);
    rejects("3\r\nabc0\r\n\r\n", /malformed chunk framing/);
    rejects("3\r\nabc\r0\r\n\r\n", /malformed chunk framing/);
    rejects("3\r\nabcd\n0\r\n\r\n", /malformed chunk framing/);
    rejects("3\r\nabc\n\n0\r\n\r\n", /malformed chunk framing/);
  });

  test("sizes: hex digits only, at least one, at most 13", () => {
    for (const line of ["g", "x5", "-1", "+1", "0x5", " 5", ";ext", "", "5g", "5\0"]) {
      rejects(`${line}\r\n`, /malformed chunk size|malformed chunk extension/);
    }
    // Whitespace after the size only ever leads to an extension.
    rejects("5 6\r\nhello\r\n0\r\n\r\n", /malformed chunk size/);
    rejects("5 x\r\nhello\r\n0\r\n\r\n", /malformed chunk size/);
    rejects("5 \r\nhello\r\n0\r\n\r\n", /malformed chunk size/);
    const decoder = newDecoder();
    decoder.push(Buffer.from("fffffffffffff"), () => {});
    assert.equal(decoder.done, false);
    rejects("fffffffffffff0\r\n", /chunk too large/);
    rejects("00000000000001\r\n", /chunk too large/);
  });

  test("extensions: no control bytes, and the size line is bounded", () => {
    rejects("3;a\0b\r\nabc\r\n0\r\n\r\n", /malformed chunk extension/);
    rejects("3;a\x7fb\r\nabc\r\n0\r\n\r\n", /malformed chunk extension/);
    rejects("3;a\x01b\r\nabc\r\n0\r\n\r\n", /malformed chunk extension/);
    const longest = `3;${"e".repeat(4094)}\r\nabc\r\n0\r\n\r\n`;
    assert.equal(decodeText(longest).data.toString(), "abc");
    rejects(`3;${"e".repeat(4095)}\r\nabc\r\n0\r\n\r\n`, /chunk size line too long/);
    // The bound is per line, not per body.
    const many = `3;${"e".repeat(4000)}\r\nabc\r\n`.repeat(5);
    assert.equal(decodeText(`${many}0\r\n\r\n`).data.length, 15);
  });

  test("trailers: field lines only, no control bytes, 16 KiB at most", () => {
    rejects("0\r\nX: a\0b\r\n\r\n", /malformed trailer/);
    rejects("0\r\nX: a\x01b\r\n\r\n", /malformed trailer/);
    rejects("0\r\nno colon\r\n\r\n", /malformed trailer/);
    rejects("0\r\nNoColon\r\n\r\n", /malformed trailer/);
    rejects("0\r\n: 1\r\n\r\n", /malformed trailer/);
    rejects("0\r\nX : 1\r\n\r\n", /malformed trailer/);
    rejects("0\r\nX: 1\r\n folded\r\n\r\n", /malformed trailer/);
    rejects("0\r\nX: 1\rY: 2\r\n\r\n", /malformed chunk framing/);
    const line = `X: ${"v".repeat(1000)}\r\n`; // 1005 bytes, 1004 counted (the LF is not)
    assert.equal(decodeText(`0\r\n${line.repeat(16)}\r\n`).done, true);
    rejects(`0\r\n${line.repeat(17)}\r\n`, /trailers too large/);
  });
});

// --- generated bodies -------------------------------------------------------

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc
  .array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 8 })
  .map((chars) => chars.join(""));
const extension = fc
  .tuple(
    fc.constantFrom("", " ", "\t "),
    token,
    fc.option(
      fc.oneof(
        token,
        token.map((t) => `"${t};\\"x"`),
      ),
    ),
  )
  .map(([bws, name, value]) => `${bws};${name}${value === null ? "" : `=${value}`}`);
const trailer = fc
  .tuple(token, fc.stringMatching(/^[ \t]?[\x21-\x7e]{0,10}$/))
  .map(([name, value]) => `${name}:${value}\r\n`);

/** The payload cut into chunks of random sizes, each with random extensions. */
const encoded = fc
  .record(
    {
      payload: fc.uint8Array({ maxLength: 600 }),
      cuts: fc.array(fc.nat(), { maxLength: 12 }),
      extensions: fc.array(fc.array(extension, { maxLength: 2 }), { maxLength: 14 }),
      upper: fc.boolean(),
      zeros: fc.nat(3),
      trailers: fc.array(trailer, { maxLength: 3 }),
    },
    { noNullPrototype: true },
  )
  .map(({ payload, cuts, extensions, upper, zeros, trailers }) => {
    const pieces = splitAt(Buffer.from(payload), cuts).filter((piece) => piece.length > 0);
    const parts: Buffer[] = [];
    pieces.forEach((piece, i) => {
      const hex = piece.length.toString(16);
      const size = "0".repeat(zeros) + (upper ? hex.toUpperCase() : hex);
      parts.push(
        Buffer.from(`${size}${(extensions[i] ?? []).join("")}\r\n`),
        piece,
        Buffer.from("\r\n"),
      );
    });
    parts.push(Buffer.from(`0${(extensions.at(-1) ?? []).join("")}\r\n${trailers.join("")}\r\n`));
    return { payload: Buffer.from(payload), body: Buffer.concat(parts) };
  });

function decodeOrError(pieces: readonly Buffer[]): Decoded | "error" {
  try {
    return decode(pieces);
  } catch (error) {
    assert.ok(error instanceof BackendProtocolError, String(error));
    return "error";
  }
}

describe("ChunkedDecoder: properties", () => {
  test("a chunked payload decodes to itself, however it is split, and nothing after it is taken", () => {
    fc.assert(
      fc.property(
        encoded,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.uint8Array({ maxLength: 40 }),
        ({ payload, body }, cuts, after) => {
          const stream = Buffer.concat([body, after]);
          const decoded = decode(splitAt(stream, cuts));
          assert.deepEqual(decoded, { data: payload, consumed: body.length, done: true });
        },
      ),
      { numRuns: 1000 },
    );
  });

  test("one byte at a time: done exactly at the last byte of the body", () => {
    fc.assert(
      fc.property(encoded, ({ payload, body }) => {
        const decoder = newDecoder();
        const data: Buffer[] = [];
        for (let i = 0; i < body.length; i++) {
          assert.equal(decoder.done, false);
          assert.equal(
            decoder.push(body.subarray(i, i + 1), (d) => data.push(Buffer.from(d))),
            1,
          );
        }
        assert.equal(decoder.done, true);
        assert.deepEqual(Buffer.concat(data), payload);
      }),
      { numRuns: 200 },
    );
  });

  test("random bytes: only ever BackendProtocolError, and every byte is accounted for", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (bytes, cuts) => {
          decodeOrError(splitAt(Buffer.from(bytes), cuts));
        },
      ),
      { numRuns: 3000 },
    );
    // Mostly hex digits and framing bytes, to get past the first size line.
    const framingByte = fc.oneof(
      fc.constantFrom(...Buffer.from("0123456789abcdefABCDEF;= \t\r\n:xX\0")),
      fc.nat(255),
    );
    fc.assert(
      fc.property(
        fc.array(framingByte, { maxLength: 300 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (bytes, cuts) => {
          decodeOrError(splitAt(Buffer.from(bytes), cuts));
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("mutated bodies: a protocol error, or a decode that does not depend on the split", () => {
    fc.assert(
      fc.property(
        encoded,
        mutations([0x0d, 0x0a, 0x3b, 0x20, 0x30, 0x3a, 0x00], 3),
        fc.array(fc.nat(), { maxLength: 6 }),
        ({ body }, edits, cuts) => {
          const input = mutate(body, edits);
          const whole = decodeOrError([input]);
          assert.deepEqual(decodeOrError(splitAt(input, cuts)), whole);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
