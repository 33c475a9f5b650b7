import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { jsonCodec, msgpackCodec, negotiateCodec } from "./codec.ts";
import { decodeHello, decodeRequest, encodeRequest, PayloadError } from "./messages.ts";

test("requests round-trip through both codecs", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(jsonCodec, msgpackCodec),
      fc.constantFrom("GET", "POST", "DELETE"),
      fc.string().map((rest) => `/${rest}`),
      // A "__proto__" key is the one thing the codecs treat apart (see below).
      fc.jsonValue().filter((value) => !JSON.stringify(value).includes('"__proto__"')),
      fc.nat(),
      (codec, method, path, data, timeoutMs) => {
        const payload = encodeRequest(codec, { method, path, data, timeoutMs });
        const decoded = decodeRequest(codec, Buffer.from(payload));
        assert.deepEqual(
          { ...decoded, data: decoded.data ?? null },
          { method, path, data: JSON.parse(JSON.stringify(data)) ?? null, timeoutMs },
        );
      },
    ),
  );
});

test('an object key "__proto__" stays as it is in JSON and is renamed by MessagePack', () => {
  const data = JSON.parse('{"__proto__":{"admin":true},"name":"x"}');
  const through = (codec: typeof jsonCodec) =>
    decodeRequest(
      codec,
      Buffer.from(encodeRequest(codec, { method: "GET", path: "/", data, timeoutMs: 0 })),
    ).data;
  assert.deepEqual(Object.keys(through(jsonCodec) as object), ["__proto__", "name"]);
  const decoded = through(msgpackCodec) as Record<string, unknown>;
  assert.deepEqual(Object.keys(decoded), ["__proto_", "name"]);
  assert.equal(Object.getPrototypeOf(decoded), Object.prototype);
});

test("malformed requests are PayloadErrors that say what is wrong", () => {
  const bad = (text: string, message: RegExp) =>
    assert.throws(
      () => decodeRequest(jsonCodec, Buffer.from(text)),
      (error: unknown) => {
        assert.ok(error instanceof PayloadError);
        assert.match(error.message, message);
        return true;
      },
    );
  bad("{", /not valid json/);
  bad('{"method":"GET"}', /must be \[method, path/);
  bad('["GET"]', /must be \[method, path/);
  bad('["", "/x"]', /method must be/);
  bad('["GET", "x"]', /path must be/);
  bad('["GET", "/x", null, -1]', /timeoutMs/);
  bad('["GET", "/x", null, 1.5]', /timeoutMs/);
  assert.throws(() => decodeRequest(msgpackCodec, Buffer.from([0xc1])), PayloadError);
});

test("random payloads decode or raise a PayloadError, nothing else", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(jsonCodec, msgpackCodec),
      fc.uint8Array({ maxLength: 64 }),
      (codec, bytes) => {
        try {
          decodeRequest(codec, Buffer.from(bytes));
        } catch (error) {
          assert.ok(error instanceof PayloadError, String(error));
        }
      },
    ),
  );
});

test("HELLO must carry version 1 and well-typed fields", () => {
  assert.deepEqual(decodeHello(Buffer.from('{"version":1}')), { version: 1 });
  assert.throws(() => decodeHello(Buffer.from('{"version":2}')), /unsupported protocol version 2/);
  assert.throws(
    () => decodeHello(Buffer.from('{"version":1,"token":5}')),
    /token must be a string/,
  );
  assert.throws(
    () => decodeHello(Buffer.from('{"version":1,"codecs":"json"}')),
    /codecs must be an array/,
  );
  assert.throws(() => decodeHello(Buffer.from("[1]")), /must be a JSON object/);
});

test("the codec is the client's first choice the server allows, JSON otherwise", () => {
  assert.equal(negotiateCodec(["msgpack", "json"], ["msgpack", "json"]).name, "msgpack");
  assert.equal(negotiateCodec(["msgpack", "json"], ["json"]).name, "json");
  assert.equal(negotiateCodec(["cbor", 7], ["msgpack", "json"]).name, "json");
  assert.equal(negotiateCodec([], ["msgpack"]).name, "json");
});
