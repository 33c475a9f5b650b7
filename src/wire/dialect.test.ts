import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { detectDialect } from "./dialect.ts";
import { PREFACE } from "./frame.ts";

test("each dialect is told from its first bytes", () => {
  assert.equal(detectDialect(PREFACE), "rpc");
  assert.equal(detectDialect(Buffer.from('{"path":"/"}')), "json-lines");
  assert.equal(detectDialect(Buffer.from(' \r\n {"path"')), "json-lines");
  assert.equal(detectDialect(Buffer.from("GET /user/1 HTTP/1.1\r\n")), "http");
  assert.equal(detectDialect(Buffer.from("DELETE / HTTP/1.1")), "http");
});

test("a prefix of a dialect waits for more bytes", () => {
  assert.equal(detectDialect(Buffer.alloc(0)), undefined);
  assert.equal(detectDialect(PREFACE.subarray(0, 2)), undefined);
  assert.equal(detectDialect(Buffer.from("  ")), undefined);
  assert.equal(detectDialect(Buffer.from("POS")), undefined);
});

test("anything else is unknown", () => {
  assert.equal(detectDialect(Buffer.from([0, 1, 2, 3])), "unknown");
  assert.equal(detectDialect(Buffer.from("garbage")), "unknown");
  assert.equal(detectDialect(Buffer.from("FOO / HTTP/1.1")), "unknown");
  assert.equal(detectDialect(Buffer.from("[1,2]")), "unknown");
  assert.equal(detectDialect(Buffer.from("GETTINGLONG")), "unknown");
});

test("no JSON text and no HTTP request can start like the framed-RPC preface", () => {
  fc.assert(
    fc.property(fc.json(), (text) => {
      assert.notEqual(detectDialect(Buffer.from(text)), "rpc");
    }),
  );
});

test("random bytes always get an answer or a wait, never a throw", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      const result = detectDialect(Buffer.from(bytes));
      assert.ok([undefined, "rpc", "json-lines", "http", "unknown"].includes(result));
    }),
  );
});
