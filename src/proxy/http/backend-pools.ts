// Keep-alive connection pools to backends: one BackendPool per route key and
// endpoint. Pools never dial by themselves: their `connect` goes through the
// BackendRouter, so the SSRF guard, breakers, connect timeouts and resolver
// hooks of the proxy core apply to every pooled connection, TCP or Unix.
// The key is part of the pool's identity so that the resolver's
// onConnect/onDisconnect and activity tracking see the right resource.
// Keys come from clients (every Host under a wildcard route is one) and
// endpoints change on reload, so a pool that serves no request for a whole
// keep-alive period is closed; the next request for its key makes a new one.
import type { BackendRouter, Route } from "../core/index.ts";
import { BackendPool } from "./backend/backend-pool.ts";

export interface PoolOptions {
  /** Most connections open to one backend per route (default 128). */
  readonly connections?: number;
  /** How long an unused pooled connection, or an unused pool, stays open (default 4 s). */
  readonly keepAliveTimeoutMs?: number;
}

interface PoolEntry {
  readonly pool: BackendPool;
  /** Asked for since the last sweep. */
  used: boolean;
}

export class BackendPools {
  readonly #pools = new Map<string, PoolEntry>();
  readonly #options: PoolOptions;
  readonly #router: BackendRouter;
  readonly #keepAliveMs: number;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(router: BackendRouter, options: PoolOptions = {}) {
    this.#router = router;
    this.#options = options;
    this.#keepAliveMs = options.keepAliveTimeoutMs ?? 4000;
  }

  /** The pool that serves `route`. */
  poolFor(route: Route): BackendPool {
    const name = `${route.key} ${route.backend}`;
    let entry = this.#pools.get(name);
    if (!entry) {
      const router = this.#router;
      const pool = new BackendPool(
        // Each request was admitted on its own (BackendRouter.admit) and reports its outcome.
        () => router.connect(route, { protocol: "http" }, { judgedByExchange: true }),
        {
          connections: this.#options.connections ?? 128,
          keepAliveMs: this.#keepAliveMs,
        },
      );
      entry = { pool, used: true };
      this.#pools.set(name, entry);
      if (this.#sweeper === undefined) {
        this.#sweeper = setInterval(this.#sweep, this.#keepAliveMs);
        this.#sweeper.unref();
      }
    }
    entry.used = true;
    return entry.pool;
  }

  /** Closes every pool once its requests in flight have finished. */
  async close(): Promise<void> {
    this.#stopSweeping();
    const pools = [...this.#pools.values()].map((entry) => entry.pool);
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  /** Closes the pools nobody asked for since the last sweep and that have nothing in flight. */
  readonly #sweep = (): void => {
    for (const [name, entry] of this.#pools) {
      if (entry.used || entry.pool.inFlight > 0) {
        entry.used = false;
        continue;
      }
      this.#pools.delete(name);
      // It is idle: closing only ends its keep-alive connections.
      entry.pool.close();
    }
    if (this.#pools.size === 0) this.#stopSweeping();
  };

  #stopSweeping(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}
