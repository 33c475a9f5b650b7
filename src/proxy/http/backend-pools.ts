// Keep-alive connection pools to backends: one undici Pool per route key and
// endpoint. Pools never dial by themselves: their `connect` goes through the
// BackendRouter, so the SSRF guard, breakers, connect timeouts and resolver
// hooks of the proxy core apply to every pooled connection, TCP or Unix.
// The key is part of the pool's identity so that the resolver's
// onConnect/onDisconnect and activity tracking see the right resource.
import { Pool } from "undici";
import { type BackendRouter, formatEndpoint, type Route, undiciConnector } from "../core/index.ts";

export interface PoolOptions {
  /** Most connections open to one backend per route (default 128). */
  readonly connections?: number;
  /** How long an unused pooled connection stays open (default 4 s). */
  readonly keepAliveTimeoutMs?: number;
}

export class BackendPools {
  readonly #pools = new Map<string, Pool>();
  readonly #options: PoolOptions;
  readonly #router: BackendRouter;

  constructor(router: BackendRouter, options: PoolOptions = {}) {
    this.#router = router;
    this.#options = options;
  }

  /** The pool that serves `route`. */
  poolFor(route: Route): Pool {
    const name = `${route.key} ${formatEndpoint(route.endpoint)}`;
    let pool = this.#pools.get(name);
    if (!pool) {
      // The origin only names the pool: the connector decides where bytes go.
      pool = new Pool("http://backend.invalid", {
        connect: undiciConnector(this.#router, route, { protocol: "http" }),
        connections: this.#options.connections ?? 128,
        keepAliveTimeout: this.#options.keepAliveTimeoutMs ?? 4000,
        pipelining: 1,
      });
      this.#pools.set(name, pool);
    }
    return pool;
  }

  /** Closes every pool once its requests in flight have finished. */
  async close(): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }
}
