// The SSRF guard: a resolver (or whoever edits its data) must not be able to
// point the proxy at internal addresses. Host names are resolved once, every
// address they resolve to is checked, and the caller connects to exactly the
// address that passed, so a DNS answer that changes (rebinding) cannot slip a
// second, internal address in. Unix-socket endpoints never reach the network
// and are not checked (see docs/resolvers.md).
import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { embeddedIPv4, HostNotationError, readHost } from "./ip-address.ts";
import { ResolverError } from "./resolver-error.ts";

/** Ranges no backend may use unless allowed: private, local, shared, multicast, reserved. */
export const BLOCKED_RANGES: readonly string[] = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8", // private
  "100.64.0.0/10", // carrier-grade NAT
  "127.0.0.0/8", // loopback
  "169.254.0.0/16", // link-local, cloud metadata (169.254.169.254)
  "172.16.0.0/12", // private
  "192.0.0.0/24", // IETF protocol assignments
  "192.0.2.0/24", // documentation
  "192.88.99.0/24", // 6to4 relay anycast
  "192.168.0.0/16", // private
  "198.18.0.0/15", // benchmarking
  "198.51.100.0/24", // documentation
  "203.0.113.0/24", // documentation
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, broadcast
  "::/128", // unspecified
  "::1/128", // loopback
  "64:ff9b:1::/48", // local-use NAT64
  "100::/64", // discard
  "2001::/32", // Teredo: the IPv4 inside is obfuscated, so refuse it whole
  "2001:db8::/32", // documentation
  "fc00::/7", // unique local
  "fe80::/10", // link-local
  "fec0::/10", // site-local (deprecated)
  "ff00::/8", // multicast
];

/** The one line of configuration that local setups and tests need. */
export const LOOPBACK_RANGES: readonly string[] = ["127.0.0.0/8", "::1/128"];

export interface SsrfGuardOptions {
  /** Ranges (CIDR, or one address) allowed even though they are blocked. */
  readonly allow?: readonly string[];
  /** Resolves a host name to all its addresses (default: the system resolver). */
  readonly lookup?: (hostname: string) => Promise<readonly string[]>;
}

export class SsrfGuard {
  readonly #blocked = rangeList(BLOCKED_RANGES);
  readonly #allowed: BlockList;
  readonly #lookup: (hostname: string) => Promise<readonly string[]>;

  constructor(options: SsrfGuardOptions = {}) {
    this.#allowed = rangeList(options.allow ?? []);
    this.#lookup = options.lookup ?? lookupAll;
  }

  /**
   * Returns the address to connect to for `host`; rejects with a ResolverError
   * (FORBIDDEN/blocked_address) when it, or any address its name resolves
   * to, is blocked.
   */
  async check(host: string): Promise<string> {
    let notation: ReturnType<typeof readHost>;
    try {
      notation = readHost(host);
    } catch (error) {
      if (!(error instanceof HostNotationError)) throw error;
      throw new ResolverError("FORBIDDEN", error.message, { reason: "blocked_address" });
    }
    if (notation.kind === "ip") {
      this.#refuseBlocked(host, notation.address);
      return notation.address;
    }
    const addresses = await this.#resolveName(notation.name);
    for (const address of addresses) this.#refuseBlocked(host, address);
    return addresses[0]!;
  }

  /** True when `address` (a canonical IP) may not be used as a backend. */
  isBlocked(address: string): boolean {
    if (address.includes("%")) return true; // zoned: link-local by nature
    const family = address.includes(":") ? "ipv6" : "ipv4";
    if (this.#allowed.check(address, family)) return false;
    if (this.#blocked.check(address, family)) return true;
    if (family === "ipv4") return false;
    const inner = embeddedIPv4(address);
    return inner !== undefined && this.isBlocked(inner);
  }

  #refuseBlocked(host: string, address: string): void {
    if (this.isBlocked(address)) {
      const via = host === address ? "" : ` (${host})`;
      throw new ResolverError(
        "FORBIDDEN",
        `backend address ${address}${via} is in a blocked range`,
        {
          reason: "blocked_address",
        },
      );
    }
  }

  async #resolveName(name: string): Promise<readonly string[]> {
    let addresses: readonly string[];
    try {
      addresses = await this.#lookup(name);
    } catch (error) {
      throw new ResolverError("UNAVAILABLE", `backend host ${name} does not resolve`, {
        reason: "backend_unreachable",
        cause: error,
      });
    }
    if (addresses.length === 0 || !addresses.every((address) => isIP(address) !== 0)) {
      throw new ResolverError("UNAVAILABLE", `backend host ${name} has no usable address`, {
        reason: "backend_unreachable",
      });
    }
    return addresses.map((address) => address.toLowerCase());
  }
}

async function lookupAll(hostname: string): Promise<readonly string[]> {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
}

function rangeList(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address = "", prefixText] = range.split("/");
    const family = address.includes(":") ? "ipv6" : "ipv4";
    const notation = readHost(address);
    if (notation.kind !== "ip") throw new TypeError(`not an IP range: ${JSON.stringify(range)}`);
    if (prefixText === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefixText), family);
  }
  return list;
}
