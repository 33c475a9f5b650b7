// Strict reading of backend host names and IP addresses, for the SSRF guard.
// Only the canonical notations pass: a dotted quad as node:net reads it, an
// IPv6 address without zone, or a DNS name. The legacy IPv4 forms that
// resolvers and browsers still accept (2130706433, 0177.0.0.1, 0x7f.1, 127.1)
// are refused, because they hide which address a name really points to.
import { isIP } from "node:net";

export type HostNotation =
  | { readonly kind: "ip"; readonly address: string; readonly family: 4 | 6 }
  | { readonly kind: "name"; readonly name: string };

export class HostNotationError extends Error {
  readonly host: string;
  constructor(host: string, why: string) {
    super(`host ${JSON.stringify(host)} is refused: ${why}`);
    this.name = "HostNotationError";
    this.host = host;
  }
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;
// WHATWG URL's "ends in a number": a last label made of digits, or of 0x and
// hex digits, turns the whole name into a legacy IPv4 notation.
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/i;

/** Classifies `host`; throws HostNotationError for anything but a canonical IP or DNS name. */
export function readHost(host: string): HostNotation {
  const family = isIP(host);
  if (family === 4) return { kind: "ip", address: host, family };
  if (family === 6) {
    if (host.includes("%")) throw new HostNotationError(host, "an IPv6 zone is not allowed");
    return { kind: "ip", address: host.toLowerCase(), family };
  }
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) {
    throw new HostNotationError(host, "not a valid host name length");
  }
  const labels = name.split(".");
  if (!labels.every((label) => LABEL.test(label))) {
    throw new HostNotationError(host, "not a valid DNS name");
  }
  if (NUMERIC_LABEL.test(labels.at(-1) ?? "")) {
    throw new HostNotationError(host, "a non-canonical IPv4 notation");
  }
  return { kind: "name", name: name.toLowerCase() };
}

/**
 * The IPv4 address carried inside an IPv6 one, for the forms that route to
 * it: IPv4-mapped (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96),
 * IPv4-compatible (::/96), NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
 */
export function embeddedIPv4(ipv6: string): string | undefined {
  const g = ipv6Groups(ipv6);
  const zeroUpTo = (end: number) => g.slice(0, end).every((group) => group === 0);
  if (g[0] === 0x2002) return quad(g[1]!, g[2]!);
  const mapped = zeroUpTo(5) && g[5] === 0xffff;
  const translated = zeroUpTo(4) && g[4] === 0xffff && g[5] === 0;
  const compatible = zeroUpTo(6);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((group) => group === 0);
  if (mapped || translated || compatible || nat64) return quad(g[6]!, g[7]!);
  return undefined;
}

/** The eight 16-bit groups of an address that node:net accepts as IPv6. */
function ipv6Groups(ipv6: string): number[] {
  const lastColon = ipv6.lastIndexOf(":");
  const tail = ipv6.slice(lastColon + 1);
  // A dotted IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
  const text = tail.includes(".") ? `${ipv6.slice(0, lastColon + 1)}${dottedToGroups(tail)}` : ipv6;
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((h) => parseInt(h, 16)));
  const [head = "", rest] = text.split("::");
  const left = parse(head);
  const right = parse(rest ?? "");
  const zeros = new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

function dottedToGroups(dotted: string): string {
  const [a = 0, b = 0, c = 0, d = 0] = dotted.split(".").map(Number);
  return `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
}

function quad(high: number, low: number): string {
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
