// Property tests of the MySQL packet parsers and writers: round trips for
// well-formed packets, and only MalformedPacketError for random, truncated
// or corrupted bytes.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import fc from "fast-check";
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_DEPRECATE_EOF,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  missingCapabilities,
  PROXY_CAPABILITIES,
} from "../../src/proxy/mysql/capabilities.ts";
import { CleartextGuard } from "../../src/proxy/mysql/cleartext-guard.ts";
import { encodeErr } from "../../src/proxy/mysql/err-packet.ts";
import { encodeGreeting, type Greeting, parseGreeting } from "../../src/proxy/mysql/greeting.ts";
import {
  encodeHandshakeResponse,
  type HandshakeResponse,
  isSslRequest,
  parseHandshakeResponse,
} from "../../src/proxy/mysql/handshake-response.ts";
import { MalformedPacketError } from "../../src/proxy/mysql/malformed-packet-error.ts";
import { encodePacket } from "../../src/proxy/mysql/packet.ts";
import { PacketChannel } from "../../src/proxy/mysql/packet-channel.ts";
import { encodeLengthEncodedInteger, PayloadReader } from "../../src/proxy/mysql/payload-reader.ts";
import { splitAt } from "../support/chunks.ts";

const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,30}$/);
const bytesWithoutNul = (maxLength: number) =>
  fc
    .uint8Array({ minLength: 0, maxLength })
    .map((bytes) => Buffer.from(bytes.filter((b) => b !== 0)));

const greeting: fc.Arbitrary<Greeting> = fc.record({
  serverVersion: fc.stringMatching(/^[0-9a-zA-Z.-]{1,40}$/),
  connectionId: fc.nat({ max: 0xffffffff }),
  scramble: fc.uint8Array({ minLength: 20, maxLength: 20, min: 1 }).map((b) => Buffer.from(b)),
  capabilities: fc
    .nat({ max: 0xffffffff })
    .map((flags) => (flags | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH) >>> 0),
  characterSet: fc.nat({ max: 255 }),
  statusFlags: fc.nat({ max: 0xffff }),
  authPlugin: name,
});

const optionalFlags = [
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_CONNECT_ATTRS,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_SECURE_CONNECTION,
];

const handshakeResponse: fc.Arbitrary<HandshakeResponse> = fc
  .record({
    chosen: fc.subarray(optionalFlags),
    maxPacketSize: fc.nat({ max: 0xffffffff }),
    characterSet: fc.nat({ max: 255 }),
    user: bytesWithoutNul(40),
    authResponse: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    database: bytesWithoutNul(64),
    authPlugin: name,
    attributes: fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
  })
  .map((r) => {
    let capabilities = r.chosen.reduce((flags, flag) => flags | flag, CLIENT_PROTOCOL_41);
    // Without these two flags the auth response is NUL-terminated and short.
    if (!(capabilities & (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_SECURE_CONNECTION))) {
      capabilities |= CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    }
    if (!(capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) && r.authResponse.length > 255) {
      capabilities |= CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    }
    return {
      capabilities,
      maxPacketSize: r.maxPacketSize,
      characterSet: r.characterSet,
      user: r.user,
      authResponse: r.authResponse,
      database: capabilities & CLIENT_CONNECT_WITH_DB ? r.database : undefined,
      authPlugin: capabilities & CLIENT_PLUGIN_AUTH ? r.authPlugin : undefined,
      attributes: capabilities & CLIENT_CONNECT_ATTRS ? r.attributes : undefined,
    };
  });

/** Runs `parse` and accepts only success or MalformedPacketError. */
function parsesOrRejectsCleanly(parse: () => unknown): void {
  try {
    parse();
  } catch (error) {
    assert.ok(error instanceof MalformedPacketError, `unexpected ${String(error)}`);
  }
}

test("a greeting survives encoding and parsing", () => {
  fc.assert(
    fc.property(greeting, (original) => {
      // fast-check records have no prototype; compare plain objects.
      assert.deepEqual(parseGreeting(encodeGreeting(original)), { ...original });
    }),
  );
});

test("a handshake response survives encoding and parsing", () => {
  fc.assert(
    fc.property(handshakeResponse, (original) => {
      assert.deepEqual(parseHandshakeResponse(encodeHandshakeResponse(original)), original);
    }),
  );
});

test("random bytes, truncations and corruptions of handshake packets fail only as malformed", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      parsesOrRejectsCleanly(() => parseGreeting(Buffer.from(bytes)));
      parsesOrRejectsCleanly(() => parseHandshakeResponse(Buffer.from(bytes)));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      handshakeResponse,
      greeting,
      fc.nat(),
      fc.nat({ max: 255 }),
      (response, server, cut, noise) => {
        for (const whole of [encodeHandshakeResponse(response), encodeGreeting(server)]) {
          const truncated = whole.subarray(0, cut % (whole.length + 1));
          parsesOrRejectsCleanly(() => parseHandshakeResponse(truncated));
          parsesOrRejectsCleanly(() => parseGreeting(truncated));
          const corrupted = Buffer.from(whole);
          corrupted[cut % corrupted.length] = noise;
          parsesOrRejectsCleanly(() => parseHandshakeResponse(corrupted));
          parsesOrRejectsCleanly(() => parseGreeting(corrupted));
        }
      },
    ),
  );
});

test("an SSLRequest is the 32-byte prefix with CLIENT_SSL", () => {
  const prefix = Buffer.alloc(32);
  prefix.writeUInt32LE(CLIENT_PROTOCOL_41 | CLIENT_SSL, 0);
  assert.equal(isSslRequest(prefix), true);
  prefix.writeUInt32LE(CLIENT_PROTOCOL_41, 0);
  assert.equal(isSslRequest(prefix), false);
  assert.equal(isSslRequest(Buffer.alloc(40, 0xff)), false);
});

test("length-encoded integers round-trip at every width", () => {
  fc.assert(
    fc.property(fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 0xffffff }), fc.maxSafeNat()), (n) => {
      const reader = new PayloadReader(encodeLengthEncodedInteger(n));
      assert.equal(reader.lengthEncodedInteger(), n);
      assert.equal(reader.remaining, 0);
    }),
  );
});

test("ERR packets carry code, SQLSTATE and message", () => {
  const payload = encodeErr({ code: 1049, sqlState: "42000", message: "Unknown database 'x'" });
  assert.equal(payload[0], 0xff);
  assert.equal(payload.readUInt16LE(1), 1049);
  assert.equal(payload.subarray(3).toString(), "#42000Unknown database 'x'");
});

test("only the capabilities that shape later packets must match the backend", () => {
  assert.deepEqual(missingCapabilities(PROXY_CAPABILITIES, PROXY_CAPABILITIES), []);
  assert.deepEqual(
    missingCapabilities(PROXY_CAPABILITIES, PROXY_CAPABILITIES & ~CLIENT_DEPRECATE_EOF),
    ["CLIENT_DEPRECATE_EOF"],
  );
  assert.deepEqual(missingCapabilities(CLIENT_PROTOCOL_41, CLIENT_PROTOCOL_41), []);
});

test("a packet channel reads the same packets however the bytes are split", async () => {
  const packet = fc.record({
    sequence: fc.nat({ max: 255 }),
    payload: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(packet, { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      async (packets, cuts) => {
        const stream = new PassThrough();
        const channel = new PacketChannel(stream, 1024);
        const bytes = Buffer.concat(packets.map((p) => encodePacket(p.sequence, p.payload)));
        for (const piece of splitAt(bytes, cuts)) stream.write(piece);
        for (const expected of packets) {
          const actual = await channel.read();
          assert.equal(actual?.sequence, expected.sequence);
          assert.deepEqual(actual?.payload, expected.payload);
        }
        assert.equal(channel.release().length, 0);
      },
    ),
    { numRuns: 200 },
  );
});

test("a packet channel refuses a packet larger than its limit and hands back unread bytes", async () => {
  const stream = new PassThrough();
  const channel = new PacketChannel(stream, 16);
  stream.write(encodePacket(0, Buffer.alloc(17)));
  await assert.rejects(channel.read(), MalformedPacketError);

  const other = new PassThrough();
  const reader = new PacketChannel(other, 16);
  other.write(Buffer.concat([encodePacket(1, Buffer.from("ab")), Buffer.from([9, 9])]));
  assert.deepEqual((await reader.read())?.payload, Buffer.from("ab"));
  assert.deepEqual(reader.release(), Buffer.from([9, 9]));
});

test("the cleartext guard reads any backend auth packet and refuses only cleartext steps", () => {
  const authSwitch = (plugin: string, data: Uint8Array) =>
    Buffer.concat([Buffer.from(`\xfe${plugin}\0`, "latin1"), data]);
  fc.assert(
    fc.property(
      fc.array(
        fc.uint8Array({ maxLength: 60 }).map((bytes) => Buffer.from(bytes)),
        {
          maxLength: 6,
        },
      ),
      fc.boolean(),
      (payloads, clientOnTls) => {
        const guard = new CleartextGuard(clientOnTls);
        for (const payload of payloads) guard.inspect(payload);
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.constantFrom("mysql_clear_password", "dialog"),
      fc.uint8Array({ maxLength: 40 }),
      fc.boolean(),
      (plugin, data, clientOnTls) => {
        const refusal = new CleartextGuard(clientOnTls).inspect(authSwitch(plugin, data));
        assert.equal(refusal?.code, 1251);
      },
    ),
  );
  const fullAuthentication = Buffer.from([0x01, 0x04]);
  for (const clientOnTls of [false, true]) {
    const guard = new CleartextGuard(clientOnTls);
    assert.equal(
      guard.inspect(authSwitch("caching_sha2_password", Buffer.alloc(20, 1))),
      undefined,
    );
    assert.equal(guard.inspect(fullAuthentication)?.code, clientOnTls ? 1251 : undefined);
    const sha256 = new CleartextGuard(clientOnTls).inspect(
      authSwitch("sha256_password", Buffer.alloc(20, 1)),
    );
    assert.equal(sha256?.code, clientOnTls ? 1251 : undefined);
  }
});
