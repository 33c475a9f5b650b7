// Keep-alive HTTP connection pools to service sockets (undici, one pool per
// socket path), and the choice among a service's instances: the one with the
// fewest requests this gateway has in flight to it.
import { Pool } from "undici";

export class Upstreams {
  readonly #pools = new Map<string, Pool>();
  readonly #inFlight = new Map<string, number>();
  readonly #timeoutMs: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** The least busy of `sockets` (the first among equals). */
  pick(sockets: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const socket of sockets) {
      const load = this.#inFlight.get(socket) ?? 0;
      if (load < bestLoad) [best, bestLoad] = [socket, load];
    }
    return best;
  }

  pool(socketPath: string): Pool {
    let pool = this.#pools.get(socketPath);
    if (pool === undefined) {
      pool = new Pool("http://service", {
        socketPath,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      this.#pools.set(socketPath, pool);
    }
    return pool;
  }

  /** Counts a request in flight to `socketPath` until the returned function is called. */
  track(socketPath: string): () => void {
    this.#inFlight.set(socketPath, (this.#inFlight.get(socketPath) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight.set(socketPath, (this.#inFlight.get(socketPath) ?? 1) - 1);
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((pool) => pool.destroy()));
    this.#pools.clear();
  }
}
