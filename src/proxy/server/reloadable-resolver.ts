// The resolver every listener of a worker shares. A config reload swaps the
// resolver inside it, so new connections of every protocol see the new
// routes at once while open connections keep their backends.
import type { ResolveContext, Resolver, ResolverStats, Result } from "../core/index.ts";

export class ReloadableResolver implements Resolver {
  #current: Resolver;

  constructor(initial: Resolver) {
    this.#current = initial;
  }

  /** Uses `next` from now on and releases the previous resolver. */
  async replace(next: Resolver): Promise<void> {
    const previous = this.#current;
    this.#current = next;
    await previous.close?.();
  }

  resolve(resourceId: string, context: ResolveContext): Result | Promise<Result> {
    return this.#current.resolve(resourceId, context);
  }

  wake(resourceId: string, result: Result, context: ResolveContext): void | Promise<void> {
    return this.#current.wake?.(resourceId, result, context);
  }

  onConnect(resourceId: string, result: Result, context: ResolveContext): void {
    this.#current.onConnect?.(resourceId, result, context);
  }

  onDisconnect(resourceId: string, result: Result, context: ResolveContext): void {
    this.#current.onDisconnect?.(resourceId, result, context);
  }

  trackActivity(resourceId: string): void {
    this.#current.trackActivity?.(resourceId);
  }

  invalidateCache(resourceId?: string): void {
    this.#current.invalidateCache?.(resourceId);
  }

  getStats(): ResolverStats {
    return this.#current.getStats?.() ?? {};
  }

  close(): void | Promise<void> {
    return this.#current.close?.();
  }
}
