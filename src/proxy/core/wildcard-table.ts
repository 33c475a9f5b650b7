// A lookup table from routing key to resolver answer, shared by the built-in
// resolvers. Keys are case-insensitive. Besides exact keys it holds wildcards:
// `*.example.com` matches any name below example.com (not example.com itself),
// and a lone `*` matches everything. The most specific key wins: exact, then
// the longest wildcard suffix, then `*`.
import type { Result } from "./resolver.ts";

export type RouteValue = string | Result;
export type StaticRoutes = Readonly<Record<string, RouteValue>>;

export class WildcardTable {
  readonly #exact = new Map<string, Result>();
  /** Keyed by the suffix with its leading dot: ".example.com". */
  readonly #wildcards = new Map<string, Result>();
  #catchAll: Result | undefined;

  constructor(routes: StaticRoutes) {
    for (const [rawKey, value] of Object.entries(routes)) {
      const key = rawKey.toLowerCase();
      const result = typeof value === "string" ? { endpoint: value } : value;
      if (key === "*") this.#catchAll = result;
      else if (key.startsWith("*.") && !key.slice(1).includes("*")) {
        this.#wildcards.set(key.slice(1), result);
      } else if (key.includes("*")) {
        throw new TypeError(`route key ${JSON.stringify(rawKey)}: "*" may only start a key`);
      } else this.#exact.set(key, result);
    }
  }

  get size(): number {
    return this.#exact.size + this.#wildcards.size + (this.#catchAll ? 1 : 0);
  }

  lookup(rawKey: string): Result | undefined {
    const key = rawKey.toLowerCase();
    const exact = this.#exact.get(key);
    if (exact) return exact;
    // Suffixes from the longest: "a.b.example.com" tries ".b.example.com" first.
    for (let dot = key.indexOf("."); dot >= 0; dot = key.indexOf(".", dot + 1)) {
      const match = this.#wildcards.get(key.slice(dot));
      if (match) return match;
    }
    return this.#catchAll;
  }
}
