// Tells the resolver which keys see traffic, for stopping idle backends,
// without a cost per byte: once when a connection opens, once when it
// closes, and, while connections stay open, once per key per interval.
import type { Resolver } from "./resolver.ts";

export class ActivityTracker {
  readonly #resolver: Resolver;
  readonly #intervalMs: number;
  /** Open connections per key. */
  readonly #open = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(resolver: Resolver, intervalMs = 10_000) {
    this.#resolver = resolver;
    this.#intervalMs = intervalMs;
  }

  opened(key: string): void {
    this.#open.set(key, (this.#open.get(key) ?? 0) + 1);
    this.#resolver.trackActivity?.(key);
    if (!this.#timer && this.#resolver.trackActivity) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  closed(key: string): void {
    const count = (this.#open.get(key) ?? 1) - 1;
    if (count > 0) this.#open.set(key, count);
    else this.#open.delete(key);
    this.#resolver.trackActivity?.(key);
    if (this.#open.size === 0) this.close();
  }

  openConnections(key: string): number {
    return this.#open.get(key) ?? 0;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    for (const key of this.#open.keys()) this.#resolver.trackActivity?.(key);
  }
}
