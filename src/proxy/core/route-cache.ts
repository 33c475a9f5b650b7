// The routing cache: recent resolver answers, bounded in age (TTL) and in
// count (least recently used entries leave first). NOT_FOUND answers are
// kept too, for a shorter time, so that a flood of unknown keys does not
// reach the resolver each time.
import type { Result } from "./resolver.ts";
import type { ResolverError } from "./resolver-error.ts";

export interface RouteCacheOptions {
  /** How long an answer is reused, in ms (default 1000). */
  readonly ttlMs?: number;
  /** How many keys are kept at most (default 10 000). */
  readonly maxEntries?: number;
  /** How long a NOT_FOUND answer is reused, in ms (default 250; 0 disables). */
  readonly negativeTtlMs?: number;
  readonly now?: () => number;
}

export type CachedAnswer =
  | { readonly result: Result; readonly error?: undefined }
  | { readonly result?: undefined; readonly error: ResolverError };

interface Entry {
  readonly answer: CachedAnswer;
  readonly expiresAt: number;
}

export class RouteCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #negativeTtlMs: number;
  readonly #now: () => number;
  /** Map order is recency order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();

  constructor(options: RouteCacheOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 1000;
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#negativeTtlMs = options.negativeTtlMs ?? 250;
    this.#now = options.now ?? Date.now;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): CachedAnswer | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (entry.expiresAt <= this.#now()) return undefined;
    this.#entries.set(key, entry);
    return entry.answer;
  }

  set(key: string, result: Result): void {
    this.#store(key, { result }, this.#ttlMs);
  }

  /** Remembers that nothing serves `key` (a NOT_FOUND error). */
  setNotFound(key: string, error: ResolverError): void {
    this.#store(key, { error }, this.#negativeTtlMs);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  #store(key: string, answer: CachedAnswer, ttlMs: number): void {
    this.#entries.delete(key);
    if (ttlMs <= 0 || this.#maxEntries <= 0) return;
    this.#entries.set(key, { answer, expiresAt: this.#now() + ttlMs });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }
}
