import assert from "node:assert/strict";
import { once } from "node:events";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { describe, test } from "node:test";
import fc from "fast-check";
import { BackendProtocolError } from "../../src/proxy/http/backend/backend-errors.ts";
import {
  parseResponseHead,
  type ResponseHead,
} from "../../src/proxy/http/backend/response-head.ts";
import { mutate, mutations } from "../support/mutations.ts";

const MAX = 16 * 1024;

function parse(text: string, maxBytes = MAX): ResponseHead | undefined {
  return parseResponseHead(Buffer.from(text, "latin1"), maxBytes);
}

function head(text: string): ResponseHead {
  const parsed = parse(text);
  assert.ok(parsed, `expected a complete head: ${JSON.stringify(text)}`);
  return parsed;
}

function rejects(text: string, message: RegExp): void {
  assert.throws(
    () => parse(text),
    (error: unknown) => {
      assert.ok(error instanceof BackendProtocolError, String(error));
      assert.match(error.message, message);
      return true;
    },
  );
}

describe("parseResponseHead: status line", () => {
  test("HTTP/1.1 and HTTP/1.0, with a reason, an empty one, or none", () => {
    const ok = head("HTTP/1.1 200 OK\r\n\r\n");
    assert.equal(ok.status, 200);
    assert.equal(ok.reason, "OK");
    assert.deepEqual(ok.headers, []);
    assert.equal(ok.size, 19);
    assert.equal(head("HTTP/1.0 404 Not Found\r\n\r\n").reason, "Not Found");
    assert.equal(head("HTTP/1.1 204 \r\n\r\n").reason, "");
    assert.equal(head("HTTP/1.1 204\r\n\r\n").reason, "");
    assert.equal(head("HTTP/1.1 599 a\tb \xe9\r\n\r\n").reason, "a\tb \xe9");
    assert.equal(head("HTTP/1.1 100 Continue\r\n\r\n").status, 100);
  });

  test("other versions, malformed codes and control bytes are rejected", () => {
    for (const line of [
      "HTTP/1.2 200 OK",
      "HTTP/0.9 200 OK",
      "http/1.1 200 OK",
      "HTTP/1.1  200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 2000",
      "HTTP/1.1 20x OK",
      "HTTP/1.1 OK",
      " HTTP/1.1 200 OK",
      "HTTP/1.1 200 O\x01K",
      "HTTP/1.1 200 O\x7fK",
      "HTTP/1.1 200 O\0K",
      "HTTP/1.1 200 O\rK",
      "HTTP/1.1 200 O\nK",
      "",
    ]) {
      rejects(`${line}\r\n\r\n`, /malformed status/);
    }
    rejects("HTTP/1.1 099 Low\r\n\r\n", /malformed status code/);
    rejects("HTTP/1.1 000 Low\r\n\r\n", /malformed status code/);
    rejects("\r\nHTTP/1.1 200 OK\r\n\r\n", /malformed status line/);
  });
});

describe("parseResponseHead: header fields", () => {
  test("names and values as sent, optional whitespace around values trimmed", () => {
    const parsed = head(
      "HTTP/1.1 200 OK\r\nX-A: 1\r\nx-b:\t two  words \t\r\nEmpty:\r\nX-A: \xff\r\n\r\n",
    );
    assert.deepEqual(parsed.headers, ["X-A", "1", "x-b", "two  words", "Empty", "", "X-A", "\xff"]);
  });

  test("obs-fold, whitespace before the colon, bare LF, bare CR, NUL and CTLs are rejected", () => {
    rejects("HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\nX-A: 1\r\n\tcontinued\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\nX-A : 1\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\nX-A\t: 1\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\n: 1\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\nNocolon\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\nX(A): 1\r\n\r\n", /malformed header field/);
    rejects("HTTP/1.1 200 OK\r\nX-A: 1\nX-B: 2\r\n\r\n", /malformed header value/);
    rejects("HTTP/1.1 200 OK\nX-A: 1\r\n\r\n", /malformed status line/);
    rejects("HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\n\r\n", /malformed header value/);
    rejects("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n", /malformed header value/);
    rejects("HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\n\r\n", /malformed header value/);
    // Control bytes at either end are not whitespace to trim away.
    rejects("HTTP/1.1 200 OK\r\nX-A: \x0b1\r\n\r\n", /malformed header value/);
    rejects("HTTP/1.1 200 OK\r\nX-A: 1\x0c\r\n\r\n", /malformed header value/);
    rejects("HTTP/1.1 200 OK\r\nX-A: 1\0\r\n\r\n", /malformed header value/);
  });

  test("a bare-LF head is refused at once rather than waited for", () => {
    assert.throws(() => parse("HTTP/1.1 200 OK\nX-A: 1\n\n"), BackendProtocolError);
    assert.throws(() => parse("HTTP/1.1 200 OK\r\nX-A: 1\n"), BackendProtocolError);
    assert.equal(parse("HTTP/1.1 200 OK\r\nX-A: 1\r"), undefined, "a CR may wait for its LF");
  });
});

describe("parseResponseHead: body framing", () => {
  test("Content-Length: single, repeated, comma-listed", () => {
    assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n").contentLength, 5);
    assert.equal(head("HTTP/1.1 200 OK\r\ncontent-length:0\r\n\r\n").contentLength, 0);
    assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n").contentLength, 5);
    assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 5,5 ,  5\r\n\r\n").contentLength, 5);
    assert.equal(
      head("HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX: y\r\ncontent-length: 7\r\n\r\n")
        .contentLength,
      7,
    );
    assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 005\r\n\r\n").contentLength, 5);
    assert.equal(
      head("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n\r\n").contentLength,
      999999999999999,
    );
    assert.equal(head("HTTP/1.1 200 OK\r\n\r\n").contentLength, undefined);
  });

  test("Content-Length that disagrees with itself or is not a number is rejected", () => {
    rejects("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", /conflicting Content-Length/);
    rejects("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", /conflicting/);
    for (const value of ["", "-1", "+5", "0x5", "5.0", "5 5", "five", "1e3", "5,", ",5", "5,,5"]) {
      rejects(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`, /malformed Content-Length/);
    }
    rejects(
      "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000\r\n\r\n",
      /malformed Content-Length/,
    );
    // Whitespace that is not OWS does not hide inside a list.
    rejects("HTTP/1.1 200 OK\r\nContent-Length: 5,\xa05\r\n\r\n", /malformed Content-Length/);
  });

  test("Transfer-Encoding: chunked alone; with Content-Length or another coding it is an error", () => {
    const chunked = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert.equal(chunked.chunked, true);
    assert.equal(chunked.contentLength, undefined);
    assert.equal(head("HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\n").chunked, true);
    assert.equal(head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n").chunked, false);
    rejects(
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
      /both Content-Length and Transfer-Encoding/,
    );
    rejects(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
      /both Content-Length and Transfer-Encoding/,
    );
    for (const value of [
      "gzip",
      "gzip, chunked",
      "chunked, gzip",
      "identity",
      "",
      "chunked, chunked",
      "chunkedx",
    ]) {
      rejects(
        `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${value}\r\n\r\n`,
        /unsupported transfer coding/,
      );
    }
    rejects(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
      /unsupported transfer coding/,
    );
    rejects("HTTP/1.1 200 OK\r\nTransfer-Encoding: \x0bchunked\r\n\r\n", /malformed header value/);
  });

  test("Transfer-Encoding in an HTTP/1.0 response is faulty framing (RFC 9112 §6.1)", () => {
    rejects(
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
      /Transfer-Encoding in an HTTP\/1\.0 response/,
    );
  });

  test("size counts the head only, whatever body bytes follow it", () => {
    const text = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n";
    assert.equal(head(text).size, text.length);
    assert.equal(head(`${text}body\r\n\r\nHTTP/1.1 200 OK\r\n\r\n`).size, text.length);
  });
});

describe("parseResponseHead: connection", () => {
  const keepAlive = (text: string) => head(`${text}\r\n\r\n`).keepAlive;

  test("HTTP/1.1 keeps the connection unless `close`; HTTP/1.0 closes unless `keep-alive`", () => {
    assert.equal(keepAlive("HTTP/1.1 200 OK"), true);
    assert.equal(keepAlive("HTTP/1.1 200 OK\r\nConnection: close"), false);
    assert.equal(keepAlive("HTTP/1.1 200 OK\r\nConnection: Upgrade, CLOSE"), false);
    assert.equal(keepAlive("HTTP/1.1 200 OK\r\nConnection: foo\r\nConnection: close"), false);
    assert.equal(keepAlive("HTTP/1.1 200 OK\r\nConnection: closed, xclose"), true);
    assert.equal(keepAlive("HTTP/1.1 200 OK\r\nConnection: keep-alive"), true);
    assert.equal(keepAlive("HTTP/1.0 200 OK"), false);
    assert.equal(keepAlive("HTTP/1.0 200 OK\r\nConnection: keep-alive"), true);
    assert.equal(keepAlive("HTTP/1.0 200 OK\r\nConnection: foo ,Keep-Alive"), true);
    assert.equal(keepAlive("HTTP/1.0 200 OK\r\nConnection: keep-alives"), false);
    assert.equal(keepAlive("HTTP/1.0 200 OK\r\nConnection: close"), false);
  });

  test("`close` wins over `keep-alive` in either version", () => {
    assert.equal(keepAlive("HTTP/1.1 200 OK\r\nConnection: keep-alive, close"), false);
    assert.equal(keepAlive("HTTP/1.0 200 OK\r\nConnection: keep-alive, close"), false);
    assert.equal(
      keepAlive("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close"),
      false,
    );
  });

  test("the Keep-Alive timeout hint, in ms", () => {
    const hint = (value: string) =>
      head(`HTTP/1.1 200 OK\r\nKeep-Alive: ${value}\r\n\r\n`).keepAliveTimeoutMs;
    assert.equal(head("HTTP/1.1 200 OK\r\n\r\n").keepAliveTimeoutMs, undefined);
    assert.equal(hint("timeout=5"), 5000);
    assert.equal(hint("timeout=5, max=100"), 5000);
    assert.equal(hint("max=100, TIMEOUT = 2"), 2000);
    assert.equal(hint("max=100"), undefined);
    assert.equal(hint("xtimeout=5"), undefined);
    assert.equal(hint("timeout=999999999"), 999999999000);
    // A number too long to be a sensible hint is ignored, not cut short.
    assert.equal(hint("timeout=1234567890"), undefined);
    assert.equal(
      head("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=3\r\nKeep-Alive: max=5\r\n\r\n")
        .keepAliveTimeoutMs,
      3000,
    );
  });
});

describe("parseResponseHead: size limit", () => {
  const text = "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n";

  test("incomplete: undefined up to maxBytes, an error past it", () => {
    assert.equal(parse(text.slice(0, -1), text.length - 1), undefined);
    assert.throws(() => parse(text.slice(0, -1), text.length - 2), /response head too large/);
    assert.throws(() => parse("x".repeat(100), 99), BackendProtocolError);
  });

  test("complete: fine at exactly maxBytes, an error one byte over, body bytes not counted", () => {
    assert.equal(parse(text, text.length)?.size, text.length);
    assert.equal(parse(`${text}${"b".repeat(1000)}`, text.length)?.size, text.length);
    assert.throws(() => parse(text, text.length - 1), /response head too large/);
  });
});

// --- generated heads --------------------------------------------------------

const FRAMING = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);
const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const name = fc
  .array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 12 })
  .map((chars) => chars.join(""))
  .filter((n) => !FRAMING.has(n.toLowerCase()));
const visible = fc
  .oneof(fc.integer({ min: 0x21, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }))
  .map((code) => String.fromCharCode(code));
/** A field value as the parser reports it: no whitespace at either end. */
const value = fc
  .array(fc.oneof({ weight: 5, arbitrary: visible }, fc.constantFrom(" ", "\t")), { maxLength: 20 })
  .map((chars) => chars.join("").replace(/^[ \t]+|[ \t]+$/g, ""));
const ows = fc.stringMatching(/^[ \t]{0,3}$/);
const reason = fc
  .array(fc.oneof({ weight: 5, arbitrary: visible }, fc.constantFrom(" ", "\t")), { maxLength: 20 })
  .map((chars) => chars.join(""));

interface Generated {
  text: string;
  expected: Omit<ResponseHead, "size">;
}

const generatedHead: fc.Arbitrary<Generated> = fc
  .record(
    {
      minor: fc.constantFrom("0", "1"),
      status: fc.integer({ min: 100, max: 999 }),
      reason,
      fields: fc.array(fc.tuple(name, ows, value, ows), { maxLength: 8 }),
      framing: fc.oneof(
        fc.constant({ kind: "none" as const }),
        fc.record({ kind: fc.constant("length" as const), length: fc.nat(), repeat: fc.nat(2) }),
        fc.record({ kind: fc.constant("chunked" as const) }),
      ),
      connection: fc.constantFrom(undefined, "close", "keep-alive", "Upgrade", "foo, Keep-Alive"),
      timeout: fc.option(fc.integer({ min: 0, max: 999999999 }), { nil: undefined }),
      position: fc.nat(),
    },
    { noNullPrototype: true },
  )
  .map(({ minor, status, reason, fields, framing, connection, timeout, position }) => {
    const lines = fields.map(([n, before, v, after]) => [n, `${n}:${before}${v}${after}`, v]);
    const extra: [string, string][] = [];
    if (framing.kind === "length") {
      for (let i = 0; i <= framing.repeat; i++)
        extra.push(["Content-Length", String(framing.length)]);
    }
    // Chunked framing is HTTP/1.1 only.
    const chunked = framing.kind === "chunked" && minor === "1";
    if (chunked) extra.push(["Transfer-Encoding", "chunked"]);
    if (connection !== undefined) extra.push(["Connection", connection]);
    if (timeout !== undefined) extra.push(["Keep-Alive", `timeout=${timeout}, max=10`]);
    for (const [n, v] of extra) {
      lines.splice(position % (lines.length + 1), 0, [n, `${n}: ${v}`, v]);
    }
    const tokens = (connection ?? "").toLowerCase();
    const keepAlive = tokens.includes("close")
      ? false
      : minor === "1" || tokens.includes("keep-alive");
    const statusLine = `HTTP/1.${minor} ${status}${reason === "" && position % 2 ? "" : ` ${reason}`}`;
    return {
      text: `${[statusLine, ...lines.map((line) => line[1])].join("\r\n")}\r\n\r\n`,
      expected: {
        status,
        reason,
        headers: lines.flatMap(([n, , v]) => [n!, v!]),
        contentLength: framing.kind === "length" ? framing.length : undefined,
        chunked,
        keepAlive,
        keepAliveTimeoutMs: timeout === undefined ? undefined : timeout * 1000,
      },
    };
  });

// biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what it looks for
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;

function parseOrError(bytes: Buffer, maxBytes: number): ResponseHead | undefined | "error" {
  try {
    return parseResponseHead(bytes, maxBytes);
  } catch (error) {
    assert.ok(error instanceof BackendProtocolError, String(error));
    return "error";
  }
}

describe("parseResponseHead: properties", () => {
  test("a generated head parses to exactly what was generated, whatever follows it", () => {
    fc.assert(
      fc.property(generatedHead, fc.uint8Array({ maxLength: 64 }), ({ text, expected }, after) => {
        const bytes = Buffer.from(text, "latin1");
        const parsed = parseResponseHead(bytes, MAX);
        assert.deepEqual(parsed, { ...expected, size: bytes.length });
        assert.deepEqual(parseResponseHead(Buffer.concat([bytes, after]), MAX), parsed);
        // Exactly at the limit is fine; one byte less is too large.
        assert.deepEqual(parseResponseHead(bytes, bytes.length), parsed);
        assert.throws(() => parseResponseHead(bytes, bytes.length - 1), BackendProtocolError);
      }),
      { numRuns: 500 },
    );
  });

  test("every proper prefix of a head is incomplete, not an error", () => {
    fc.assert(
      fc.property(generatedHead, ({ text }) => {
        const bytes = Buffer.from(text, "latin1");
        for (let n = 0; n < bytes.length; n++) {
          assert.equal(parseResponseHead(bytes.subarray(0, n), MAX), undefined);
        }
      }),
      { numRuns: 200 },
    );
  });

  test("random bytes only ever give a head, undefined or BackendProtocolError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(300), (bytes, maxBytes) => {
        const data = Buffer.from(bytes);
        const result = parseOrError(data, maxBytes);
        if (result !== undefined && result !== "error") {
          assert.ok(result.size <= maxBytes && result.size <= data.length);
        }
      }),
      { numRuns: 2000 },
    );
    // Random bytes seldom look like a head; these start like one.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const data = Buffer.concat([
          Buffer.from("HTTP/1.1 200 OK\r\n"),
          bytes,
          Buffer.from("\r\n\r\n"),
        ]);
        parseOrError(data, MAX);
      }),
      { numRuns: 2000 },
    );
  });

  test("mutated heads: a protocol error or a head whose fields are all clean", () => {
    fc.assert(
      fc.property(
        generatedHead,
        mutations([0x00, 0x09, 0x0a, 0x0b, 0x0d, 0x20, 0x2c, 0x3a, 0x7f, 0xa0], 4),
        ({ text }, edits) => {
          const mutated = mutate(Buffer.from(text, "latin1"), edits);
          const result = parseOrError(mutated, MAX);
          if (result === undefined || result === "error") return;
          assert.ok(result.status >= 100 && result.status <= 999);
          assert.doesNotMatch(result.reason, CONTROL);
          for (let i = 0; i < result.headers.length; i += 2) {
            assert.match(result.headers[i]!, /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
            const fieldValue: string = result.headers[i + 1]!;
            assert.doesNotMatch(fieldValue, CONTROL);
            assert.equal(fieldValue, fieldValue.replace(/^[ \t]+|[ \t]+$/g, ""));
          }
          assert.ok(!(result.chunked && result.contentLength !== undefined));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// --- agreement with Node's own parser (llhttp) --------------------------------

/** Sends each raw head from a loopback server to node:http and says whether llhttp took it. */
async function withLlhttp(run: (accepts: (text: string) => Promise<boolean>) => Promise<void>) {
  const queue: string[] = [];
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.end(queue.shift()!, "latin1"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  const agent = new http.Agent({ keepAlive: false });
  const accepts = (text: string) =>
    new Promise<boolean>((resolve) => {
      queue.push(text);
      const request = http.get({ host: "127.0.0.1", port, agent }, (response) => {
        response.resume();
        response.on("error", () => {});
        resolve(true);
      });
      request.on("error", () => resolve(false));
    });
  try {
    await run(accepts);
  } finally {
    agent.destroy();
    server.close();
    await once(server, "close");
  }
}

describe("parseResponseHead: agreement with llhttp", () => {
  // Heads built from pieces, some valid and some not, where the two parsers
  // are meant to agree. Ours is stricter on purpose elsewhere (not generated
  // here): it takes HTTP/1.0 and 1.1 only (llhttp takes HTTP/2.0 too), and
  // rejects Transfer-Encoding other than exactly one `chunked` and
  // Transfer-Encoding in HTTP/1.0.
  const piece = fc.constantFrom(
    "X-A: 1",
    "x-b:\tv a l\t",
    "X-C:",
    "Content-Length: 0",
    "Content-Length: 0",
    "Transfer-Encoding: chunked",
    "Connection: close",
    "Keep-Alive: timeout=5",
    "X-D : 1",
    " folded",
    "X(E): 1",
    "Content-Length: 1",
    "Content-Length: x",
    "Content-Length: -1",
    "Transfer-Encoding: chunked",
    "NoColon",
  );
  // One field of each name: llhttp rejects even agreeing repeated
  // Content-Length fields (RFC 9110 §8.6 lets us take them) and takes
  // repeated `chunked` codings (we do not).
  const fields = fc.uniqueArray(piece, {
    maxLength: 4,
    selector: (field) => field.split(":")[0]!.toLowerCase(),
  });
  const statusLine = fc.constantFrom(
    "HTTP/1.1 200 OK",
    "HTTP/1.1 204 No Content",
    "HTTP/1.1 404 ",
    "HTTP/1.1 500",
    "HTTP/1.1 599 Whatever it is",
    "HTTP/1.1 2000 OK",
    "HTTP/1.1 20 OK",
    "HTTP/1.1 abc OK",
    "HTTQ/1.1 200 OK",
  );

  test("generated heads: accepted by one exactly when accepted by the other", async () => {
    await withLlhttp(async (accepts) => {
      await fc.assert(
        fc.asyncProperty(statusLine, fields, async (line, fields) => {
          const text = `${[line, ...fields].join("\r\n")}\r\n\r\n`;
          const ours = parseOrError(Buffer.from(text, "latin1"), MAX) !== "error";
          assert.equal(ours, await accepts(text), JSON.stringify(text));
        }),
        { numRuns: 1000 },
      );
    });
  });
});
