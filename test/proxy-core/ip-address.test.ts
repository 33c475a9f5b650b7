import assert from "node:assert/strict";
import { isIP } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { embeddedIPv4, HostNotationError, readHost } from "../../src/proxy/core/ip-address.ts";

test("canonical addresses and DNS names are read as such", () => {
  assert.deepEqual(readHost("127.0.0.1"), { kind: "ip", address: "127.0.0.1", family: 4 });
  assert.deepEqual(readHost("FE80::1"), { kind: "ip", address: "fe80::1", family: 6 });
  assert.deepEqual(readHost("Api.Example.com."), { kind: "name", name: "api.example.com" });
  assert.deepEqual(readHost("localhost"), { kind: "name", name: "localhost" });
});

test("legacy IPv4 notations and malformed names are refused", () => {
  for (const host of [
    "2130706433", // decimal
    "0177.0.0.1", // octal
    "0x7f.0.0.1", // hex
    "0x7f000001",
    "127.1", // shorthand
    "127.0.1",
    "127.0.0.1.", // trailing dot turns it into a name ending in a number
    "017700000001",
    "10.0.0.010",
    "foo.0x10",
    "a..b",
    "-a.example",
    "",
    "fe80::1%eth0", // zone
    "exa mple.com",
    "ex\u0430mple.com", // a Cyrillic letter
  ]) {
    assert.throws(() => readHost(host), HostNotationError, host);
  }
});

test("the IPv4 inside mapped, compatible, NAT64 and 6to4 addresses is found", () => {
  assert.equal(embeddedIPv4("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(embeddedIPv4("::ffff:7f00:1"), "127.0.0.1");
  assert.equal(embeddedIPv4("::ffff:0:a00:1"), "10.0.0.1");
  assert.equal(embeddedIPv4("::a9fe:a9fe"), "169.254.169.254");
  assert.equal(embeddedIPv4("64:ff9b::10.0.0.1"), "10.0.0.1");
  assert.equal(embeddedIPv4("64:ff9b::c0a8:101"), "192.168.1.1");
  assert.equal(embeddedIPv4("2002:a9fe:a9fe::1"), "169.254.169.254");
  assert.equal(embeddedIPv4("2606:4700::1111"), undefined);
  assert.equal(embeddedIPv4("fe80::1"), undefined);
});

const octet = fc.integer({ min: 0, max: 255 });
const ipv4 = fc.tuple(octet, octet, octet, octet);
const hex = (n: number) => n.toString(16);

test("property: every IPv6 spelling of an embedded IPv4 yields that IPv4", () => {
  fc.assert(
    fc.property(ipv4, fc.constantFrom("mapped", "nat64", "6to4", "compatible"), (q, form) => {
      const [a, b, c, d] = q;
      const high = hex((a << 8) | b);
      const low = hex((c << 8) | d);
      const text = {
        mapped: `::ffff:${high}:${low}`,
        nat64: `64:ff9b::${a}.${b}.${c}.${d}`,
        "6to4": `2002:${high}:${low}::1`,
        compatible: `0:0:0:0:0:0:${high}:${low}`,
      }[form];
      assert.equal(isIP(text), 6);
      assert.equal(embeddedIPv4(text), q.join("."));
    }),
  );
});

test("property: non-canonical IPv4 spellings are always refused", () => {
  const part = fc.oneof(
    octet.map((n) => `0${n.toString(8)}`), // octal
    octet.map((n) => `0x${hex(n)}`), // hex
    octet.map(String),
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.integer({ min: 0, max: 2 ** 32 - 1 }).map(String), // one decimal number
        fc.array(part, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(".")),
      ),
      (host) => {
        if (isIP(host) === 4) return; // the canonical dotted quad is fine
        assert.throws(() => readHost(host), HostNotationError);
      },
    ),
  );
});

test("property: any string is either read or refused with a HostNotationError", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fx.:%]{0,40}$/)), (host) => {
      try {
        const notation = readHost(host);
        if (notation.kind === "ip") assert.notEqual(isIP(notation.address), 0);
        else assert.match(notation.name, /^[a-z0-9_.-]+$/);
      } catch (error) {
        assert.ok(error instanceof HostNotationError);
      }
    }),
    { numRuns: 2000 },
  );
});
