import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";
import { LOOPBACK_RANGES, SsrfGuard } from "../../src/proxy/core/ssrf-guard.ts";

const publicLookup = async () => ["93.184.216.34"];

async function refusal(guard: SsrfGuard, host: string): Promise<ResolverError> {
  try {
    await guard.check(host);
  } catch (error) {
    assert.ok(error instanceof ResolverError, `${host}: ${error}`);
    return error;
  }
  assert.fail(`${host} was allowed`);
}

test("addresses in every blocked range are refused, public ones pass", async () => {
  const guard = new SsrfGuard({ lookup: publicLookup });
  for (const host of [
    "0.0.0.0",
    "10.1.2.3",
    "100.64.0.1",
    "127.0.0.1",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "192.0.2.1",
    "198.18.0.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "fc00::1",
    "fd12:3456::1",
    "fe80::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:a9fe:a9fe",
    "64:ff9b::10.0.0.1",
    "64:ff9b::7f00:1",
    "2002:7f00:1::1",
    "2002:a9fe:a9fe::",
    "2001:db8::1",
    "2001::1", // Teredo
  ]) {
    const error = await refusal(guard, host);
    assert.equal(error.code, "FORBIDDEN", host);
    assert.equal(error.reason, "blocked_address", host);
  }
  for (const host of [
    "93.184.216.34",
    "1.1.1.1",
    "172.32.0.1",
    "2606:4700::1111",
    "64:ff9b::101:101",
    "2002:101:101::1",
  ]) {
    assert.equal(await guard.check(host), host);
  }
});

test("odd notations are refused as forbidden", async () => {
  const guard = new SsrfGuard({ lookup: publicLookup });
  for (const host of [
    "2130706433",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "0.0.0.0.",
    "fe80::1%lo",
  ]) {
    const error = await refusal(guard, host);
    assert.equal(error.code, "FORBIDDEN", host);
  }
});

test("the allowlist is one line for loopback, and covers embedded forms", async () => {
  const guard = new SsrfGuard({ allow: LOOPBACK_RANGES, lookup: publicLookup });
  assert.equal(await guard.check("127.0.0.1"), "127.0.0.1");
  assert.equal(await guard.check("127.9.9.9"), "127.9.9.9");
  assert.equal(await guard.check("::1"), "::1");
  assert.equal(await guard.check("::ffff:127.0.0.1"), "::ffff:127.0.0.1");
  assert.equal((await refusal(guard, "10.0.0.1")).code, "FORBIDDEN");
  assert.equal((await refusal(guard, "169.254.169.254")).code, "FORBIDDEN");
});

test("a name is resolved once, every address is checked, the checked one is returned", async () => {
  let lookups = 0;
  const answers: Record<string, string[]> = {
    "good.test": ["93.184.216.34", "2606:4700::1111"],
    "mixed.test": ["93.184.216.34", "10.0.0.7"],
    "metadata.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:10.0.0.1"],
  };
  const guard = new SsrfGuard({
    lookup: async (name) => {
      lookups += 1;
      const found = answers[name];
      if (!found)
        throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
      return found;
    },
  });
  assert.equal(await guard.check("good.test"), "93.184.216.34");
  assert.equal(lookups, 1);
  assert.equal((await refusal(guard, "mixed.test")).reason, "blocked_address");
  assert.equal((await refusal(guard, "metadata.test")).reason, "blocked_address");
  assert.equal((await refusal(guard, "mapped.test")).reason, "blocked_address");
  const missing = await refusal(guard, "missing.test");
  assert.equal(missing.code, "UNAVAILABLE");
  assert.equal(missing.reason, "backend_unreachable");
});

test("a lookup answering garbage is refused, not trusted", async () => {
  const guard = new SsrfGuard({ lookup: async () => ["127.1"] });
  assert.equal((await refusal(guard, "odd.test")).code, "UNAVAILABLE");
  const empty = new SsrfGuard({ lookup: async () => [] });
  assert.equal((await refusal(empty, "empty.test")).code, "UNAVAILABLE");
});

const octet = fc.integer({ min: 0, max: 255 });
const blockedIPv4 = fc.oneof(
  fc.tuple(fc.constant(10), octet, octet, octet),
  fc.tuple(fc.constant(127), octet, octet, octet),
  fc.tuple(fc.constant(169), fc.constant(254), octet, octet),
  fc.tuple(fc.constant(172), fc.integer({ min: 16, max: 31 }), octet, octet),
  fc.tuple(fc.constant(192), fc.constant(168), octet, octet),
  fc.tuple(fc.constant(100), fc.integer({ min: 64, max: 127 }), octet, octet),
  fc.tuple(fc.integer({ min: 224, max: 255 }), octet, octet, octet),
  fc.tuple(fc.constant(0), octet, octet, octet),
);
const hex = (high: number, low: number) => ((high << 8) | low).toString(16);

test("property: a blocked IPv4 is refused in every spelling an attacker may try", async () => {
  const guard = new SsrfGuard({ lookup: publicLookup });
  await fc.assert(
    fc.asyncProperty(
      blockedIPv4,
      fc.constantFrom(
        "dotted",
        "decimal",
        "octal",
        "hex",
        "mapped",
        "mappedHex",
        "nat64",
        "6to4",
        "compatible",
      ),
      async ([a, b, c, d], form) => {
        const spelled = {
          dotted: `${a}.${b}.${c}.${d}`,
          decimal: String(((a << 24) >>> 0) + (b << 16) + (c << 8) + d),
          octal: [a, b, c, d].map((n) => `0${n.toString(8)}`).join("."),
          hex: `0x${[a, b, c, d].map((n) => n.toString(16).padStart(2, "0")).join("")}`,
          mapped: `::ffff:${a}.${b}.${c}.${d}`,
          mappedHex: `::FFFF:${hex(a, b)}:${hex(c, d)}`,
          nat64: `64:ff9b::${hex(a, b)}:${hex(c, d)}`,
          "6to4": `2002:${hex(a, b)}:${hex(c, d)}::1`,
          compatible: `::${a}.${b}.${c}.${d}`,
        }[form];
        const error = await refusal(guard, spelled);
        assert.equal(error.code, "FORBIDDEN", spelled);
      },
    ),
    { numRuns: 500 },
  );
});

test("property: hostile host strings never pass unless canonical and public", async () => {
  const guard = new SsrfGuard({ lookup: async () => ["10.0.0.1"] });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-fA-Fx.:%[\]]{0,45}$/)),
      async (host) => {
        try {
          const address = await guard.check(host);
          // Names all resolve to 10.0.0.1 here, so only a public literal passes.
          assert.equal(guard.isBlocked(address), false);
          assert.equal(address, host.toLowerCase());
        } catch (error) {
          assert.ok(error instanceof ResolverError);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
