import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, test } from "node:test";
import fc from "fast-check";
import { type BodySource, RequestBody } from "../../src/proxy/http/client/request-body.ts";
import { ClientRequestError } from "../../src/proxy/http/client/request-error.ts";
import { BodyTooLargeError } from "../../src/proxy/http/error-status.ts";
import { splitAt } from "../support/chunks.ts";

type Framing = { readonly length: number } | { readonly chunked: true };

/** A socket as the body sees it: counts the pauses and resumes it is asked for. */
class Source implements BodySource {
  paused = false;
  pauses = 0;
  /** Resumes that ended a pause (the body also asks when it was not paused). */
  unpauses = 0;
  #wake: (() => void) | undefined;

  pause(): void {
    this.pauses += 1;
    this.paused = true;
  }

  resume(): void {
    if (this.paused) this.unpauses += 1;
    this.paused = false;
    this.#wake?.();
  }

  /** Until the body asks to be read again. */
  resumed(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }
}

/** A body whose error waits for its reader, as the connection sets it up. */
function newBody(framing: Framing, limit?: number, source: BodySource = new Source()) {
  const body = new RequestBody(framing, source, limit);
  body.on("error", () => {});
  return body;
}

async function collect(body: RequestBody): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface Fed {
  /** What each feed returned. */
  used: number[];
  /** Bytes the body took, in total. */
  taken: number;
}

/** Feeds every piece, as the connection does until the body is complete or broken. */
function feed(body: RequestBody, pieces: readonly Buffer[]): Fed {
  const used: number[] = [];
  let taken = 0;
  for (const piece of pieces) {
    const n = body.feed(piece);
    used.push(n);
    if (n < 0) break;
    assert.ok(n <= piece.length);
    taken += n;
  }
  return { used, taken };
}

/** Checks what a connection relies on: every piece is the body's until the one that completes it. */
function assertHandedBack(fed: Fed, pieces: readonly Buffer[], bodyLength: number): void {
  let seen = 0;
  fed.used.forEach((n, i) => {
    const piece = pieces[i]!;
    if (seen + piece.length <= bodyLength) assert.equal(n, piece.length);
    else assert.equal(n, Math.max(0, bodyLength - seen), "the rest is handed back");
    seen += piece.length;
  });
  assert.equal(fed.taken, bodyLength);
}

/** `payload` in chunked framing, cut into chunks at `cuts`, with an extension and trailers. */
function chunked(payload: Buffer, cuts: readonly number[], trailers = ""): Buffer {
  const parts: Buffer[] = [];
  for (const piece of splitAt(payload, cuts)) {
    if (piece.length === 0) continue;
    parts.push(Buffer.from(`${piece.length.toString(16)};n=v\r\n`), piece, Buffer.from("\r\n"));
  }
  parts.push(Buffer.from(`0\r\n${trailers}\r\n`));
  return Buffer.concat(parts);
}

async function assertFails(
  body: RequestBody,
  kind: new (...args: never[]) => Error,
  status?: number,
) {
  assert.ok(body.errored instanceof kind, String(body.errored));
  if (status !== undefined) assert.equal((body.errored as ClientRequestError).status, status);
  await assert.rejects(collect(body), kind);
}

const cutsArb = fc.array(fc.nat(), { maxLength: 10 });
const trailersArb = fc.constantFrom("", "X-Sum: 1\r\n", "A: b\r\nC:\r\n");

describe("RequestBody: Content-Length", () => {
  test("takes the declared bytes and hands back what follows", async () => {
    const body = newBody({ length: 5 });
    assert.equal(body.complete, false);
    assert.equal(body.feed(Buffer.from("hel")), 3);
    assert.equal(body.complete, false);
    assert.equal(body.feed(Buffer.from("loGET / HTTP/1.1\r\n")), 2);
    assert.equal(body.complete, true);
    assert.equal(body.feed(Buffer.from("more")), 0, "nothing is taken once complete");
    assert.equal((await collect(body)).toString(), "hello");
  });

  test("a length body decodes to itself however split; the bytes after it are handed back", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 2000 }),
        fc.uint8Array({ maxLength: 40 }),
        cutsArb,
        async (payload, after, cuts) => {
          const body = newBody({ length: payload.length });
          const pieces = splitAt(Buffer.concat([payload, after]), cuts);
          const fed = feed(body, pieces);
          assertHandedBack(fed, pieces, payload.length);
          assert.equal(body.complete, true);
          assert.deepEqual(await collect(body), Buffer.from(payload));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("the limit: a body of exactly the limit is taken, one byte more fails the stream", async () => {
    const exact = newBody({ length: 10 }, 10);
    assert.equal(exact.feed(Buffer.alloc(10, 1)), 10);
    assert.equal((await collect(exact)).length, 10);

    const over = newBody({ length: 20 }, 10);
    assert.equal(over.feed(Buffer.alloc(10, 1)), 10);
    assert.equal(over.feed(Buffer.alloc(1, 1)), -1);
    assert.equal(over.complete, false);
    assert.equal(over.feed(Buffer.alloc(1, 1)), -1, "a broken body takes nothing more");
    await assertFails(over, BodyTooLargeError);
  });
});

describe("RequestBody: chunked", () => {
  test("decodes chunks, drops extensions and trailers, hands back what follows", async () => {
    const body = newBody({ chunked: true });
    const encoded = "5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 1\r\n\r\n";
    assert.equal(body.feed(Buffer.from(`${encoded}GET / HTTP/1.1\r\n`)), encoded.length);
    assert.equal(body.complete, true);
    assert.equal(body.feed(Buffer.from("0\r\n\r\n")), 0, "nothing is taken once complete");
    assert.equal((await collect(body)).toString(), "hello world");
  });

  test("not complete until the final CRLF of the trailer section", () => {
    const body = newBody({ chunked: true });
    assert.equal(body.feed(Buffer.from("0\r\n")), 3);
    assert.equal(body.complete, false);
    assert.equal(body.feed(Buffer.from("\r")), 1);
    assert.equal(body.complete, false);
    assert.equal(body.feed(Buffer.from("\nX")), 1);
    assert.equal(body.complete, true);
  });

  test("a chunked body decodes to itself however split; the bytes after it are handed back", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 2000 }),
        cutsArb,
        trailersArb,
        fc.uint8Array({ maxLength: 40 }),
        cutsArb,
        async (payload, chunkCuts, trailers, after, cuts) => {
          const encoded = chunked(Buffer.from(payload), chunkCuts, trailers);
          const body = newBody({ chunked: true });
          const pieces = splitAt(Buffer.concat([encoded, after]), cuts);
          const fed = feed(body, pieces);
          assertHandedBack(fed, pieces, encoded.length);
          assert.equal(body.complete, true);
          assert.deepEqual(await collect(body), Buffer.from(payload));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("malformed framing: -1, and the stream fails with ClientRequestError 400", async () => {
    for (const text of [
      "5\r\nhelloX\r\n0\r\n\r\n",
      "3\nabc\r\n0\r\n\r\n",
      "zz\r\n",
      "5 6\r\nhello\r\n",
      "0\r\nno colon\r\n\r\n",
      "fffffffffffff0\r\n",
    ]) {
      const body = newBody({ chunked: true });
      assert.equal(body.feed(Buffer.from(text)), -1, JSON.stringify(text));
      assert.equal(body.feed(Buffer.from("0\r\n\r\n")), -1, "a broken body takes nothing more");
      assert.equal(body.complete, false);
      await assertFails(body, ClientRequestError, 400);
    }
    // Broken in a later piece, after good chunks went on.
    const body = newBody({ chunked: true });
    assert.equal(body.feed(Buffer.from("3\r\nabc\r\n")), 8);
    assert.equal(body.feed(Buffer.from("3\r\nabcd")), -1);
    await assertFails(body, ClientRequestError, 400);
  });

  test("random framing bytes: -1 exactly when the stream fails, and then with a 400", () => {
    const framingByte = fc.oneof(
      fc.constantFrom(...Buffer.from("0123456789abcdefABCDEF;= \t\r\n:xX\0")),
      fc.nat(255),
    );
    fc.assert(
      fc.property(fc.array(framingByte, { maxLength: 200 }), cutsArb, (bytes, cuts) => {
        const body = newBody({ chunked: true });
        const fed = feed(body, splitAt(Buffer.from(bytes), cuts));
        if (fed.used.includes(-1)) {
          assert.ok(body.errored instanceof ClientRequestError);
          assert.equal(body.errored.status, 400);
          assert.equal(body.complete, false);
        } else {
          assert.equal(body.errored, null);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test("the limit counts decoded bytes: at most the limit is taken, more fails the stream", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 600 }),
        fc.nat(700),
        cutsArb,
        cutsArb,
        async (payload, limit, chunkCuts, cuts) => {
          const encoded = chunked(Buffer.from(payload), chunkCuts);
          const body = newBody({ chunked: true }, limit);
          const fed = feed(body, splitAt(encoded, cuts));
          if (payload.length <= limit) {
            assert.equal(fed.taken, encoded.length);
            assert.deepEqual(await collect(body), Buffer.from(payload));
          } else {
            assert.equal(fed.used.at(-1), -1);
            await assertFails(body, BodyTooLargeError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("RequestBody: the client leaving, the reader giving up", () => {
  test("cut() before the body is complete fails the stream with a 400", async () => {
    for (const framing of [{ length: 10 }, { chunked: true as const }]) {
      const body = newBody(framing);
      body.feed(Buffer.from("5\r\nab"));
      body.cut();
      await assertFails(body, ClientRequestError, 400);
      assert.match(String(body.errored), /cut short/);
    }
  });

  test("cut() once complete changes nothing", async () => {
    const body = newBody({ length: 3 });
    body.feed(Buffer.from("abc"));
    body.cut();
    assert.equal(body.errored, null);
    assert.equal((await collect(body)).toString(), "abc");
  });

  test("a body its reader destroyed takes nothing more: -1", () => {
    for (const [framing, bytes] of [
      [{ length: 10 }, "abc"],
      [{ chunked: true as const }, "3\r\nabc\r\n"],
    ] as const) {
      const body = newBody(framing);
      body.destroy();
      assert.equal(body.feed(Buffer.from(bytes)), -1);
    }
  });
});

describe("RequestBody: backpressure", () => {
  const PIECE = 8192;

  /**
   * Feeds `bytes` in socket-sized pieces, stopping while the source is
   * paused, into a reader that takes one chunk per turn of the event loop.
   */
  async function throughSlowReader(framing: Framing, bytes: Buffer) {
    const source = new Source();
    const body = new RequestBody(framing, source);
    const received: Buffer[] = [];
    const reader = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, done) {
        received.push(chunk);
        setImmediate(done);
      },
    });
    const piped = pipeline(body, reader);
    let mostBuffered = 0;
    for (let at = 0; at < bytes.length; at += PIECE) {
      while (source.paused) await source.resumed();
      mostBuffered = Math.max(mostBuffered, body.readableLength);
      const piece = bytes.subarray(at, at + PIECE);
      assert.equal(body.feed(piece), piece.length);
    }
    await piped;
    return { source, body, received: Buffer.concat(received), mostBuffered };
  }

  test("a reader that falls behind pauses the source and resumes it; nothing piles up", async () => {
    const payload = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    for (const [framing, bytes] of [
      [{ length: payload.length }, payload],
      [{ chunked: true as const }, chunked(payload, [1000, 70000, 300000, 300001, 900000])],
    ] as const) {
      const { source, body, received, mostBuffered } = await throughSlowReader(framing, bytes);
      assert.equal(body.complete, true);
      assert.deepEqual(received, payload);
      assert.ok(source.pauses > 0, "never paused");
      assert.equal(source.paused, false);
      assert.ok(source.unpauses > 0, "never resumed");
      // Fed only while not paused: the body never holds much more than its high-water mark.
      assert.ok(
        mostBuffered <= body.readableHighWaterMark,
        `${mostBuffered} > ${body.readableHighWaterMark}`,
      );
    }
  });

  test("a body completed while its reader is behind does not leave the source paused", async () => {
    for (const [framing, bytes] of [
      [{ length: 200_000 }, Buffer.alloc(200_000, 1)],
      [{ chunked: true as const }, chunked(Buffer.alloc(200_000, 1), [])],
    ] as const) {
      const source = new Source();
      const body = newBody(framing, undefined, source);
      assert.equal(body.feed(bytes), bytes.length);
      assert.equal(body.complete, true);
      assert.ok(source.pauses > 0);
      // Else the connection would never read the request after this one.
      assert.equal(source.paused, false);
      assert.equal((await collect(body)).length, 200_000);
    }
  });

  test("a reader that keeps up never pauses the source", async () => {
    const source = new Source();
    const body = new RequestBody({ length: 3000 }, source);
    const done = collect(body);
    for (let i = 0; i < 3; i++) {
      body.feed(Buffer.alloc(1000, i));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal((await done).length, 3000);
    assert.equal(source.pauses, 0);
  });
});
