// Cold start: a resolver answered that a backend sleeps. The first
// connection for the key wakes it (the resolver's wake hook, called once),
// later ones join the same wait, up to a bound per key. The gate then polls:
// re-resolve, bypassing the routing cache, until the answer is awake and its
// endpoint accepts a connection. Waiters are released together, in arrival
// order, or all fail at the deadline.
import { abortable } from "./abortable.ts";
import { type Endpoint, resultEndpoint } from "./endpoint.ts";
import type { ResolveContext, Resolver, Result } from "./resolver.ts";
import { ResolverError, toResolverError } from "./resolver-error.ts";

export interface ColdStartOptions {
  /** How long connections wait for a backend to wake, in ms (default 30 s). */
  readonly timeoutMs?: number;
  /** How often readiness is polled, in ms (the `healthCheckInterval`, default 100). */
  readonly pollIntervalMs?: number;
  /** Connections that may wait on one key; more fail at once (default 1000). */
  readonly maxQueue?: number;
}

/** Tries one connection to a woken backend: true if it accepted. */
export type ReadinessProbe = (endpoint: Endpoint, timeoutMs: number) => Promise<boolean>;

export interface Woken {
  readonly result: Result;
  /** How long this caller waited, in ms. */
  readonly waitedMs: number;
}

interface Wake {
  waiters: number;
  readonly ready: Promise<Result>;
}

export class ColdStartGate {
  readonly #timeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #maxQueue: number;
  readonly #resolver: Resolver;
  readonly #probe: ReadinessProbe;
  readonly #wakes = new Map<string, Wake>();

  constructor(options: ColdStartOptions, resolver: Resolver, probe: ReadinessProbe) {
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#pollIntervalMs = options.pollIntervalMs ?? 100;
    this.#maxQueue = options.maxQueue ?? 1000;
    this.#resolver = resolver;
    this.#probe = probe;
  }

  /**
   * Waits until the backend of `key` is awake; rejects with a ResolverError.
   * A caller that gives up (its client left) aborts `signal` and frees its place.
   */
  async wait(
    key: string,
    asleep: Result,
    context: ResolveContext,
    signal?: AbortSignal,
  ): Promise<Woken> {
    const arrivedAt = performance.now();
    let wake = this.#wakes.get(key);
    if (wake && wake.waiters >= this.#maxQueue) {
      throw new ResolverError("UNAVAILABLE", `too many connections wait for ${key} to wake`, {
        reason: "queue_full",
        retryAfterMs: this.#pollIntervalMs,
      });
    }
    if (!wake) {
      const ready = this.#wakeAndPoll(key, asleep, context).finally(() => this.#wakes.delete(key));
      // Every waiter may have given up before the wake ends: its failure
      // then has no one to go to, and must not become an unhandled rejection.
      ready.catch(() => {});
      wake = { waiters: 0, ready };
      this.#wakes.set(key, wake);
    }
    wake.waiters += 1;
    const joined = wake;
    const gaveUp = () => {
      joined.waiters -= 1;
      return new ResolverError("UNAVAILABLE", `gave up waiting for ${key} to wake`, {
        reason: "cold_start_failed",
        cause: signal?.reason,
      });
    };
    // Reactions to one promise run in the order they were added: arrival order.
    const result = await (signal ? abortable(wake.ready, signal, gaveUp) : wake.ready);
    return { result, waitedMs: performance.now() - arrivedAt };
  }

  async #wakeAndPoll(key: string, asleep: Result, context: ResolveContext): Promise<Result> {
    const deadline = performance.now() + this.#timeoutMs;
    const timedOut = () =>
      new ResolverError("TIMEOUT", `${key} did not wake within ${this.#timeoutMs} ms`, {
        reason: "cold_start_timeout",
      });
    const remaining = () => deadline - performance.now();
    await withDeadline(this.#callWake(key, asleep, context), remaining(), timedOut);
    for (;;) {
      const current = await withDeadline(this.#resolve(key, context), remaining(), timedOut);
      if (!current.asleep) {
        const endpoint = resultEndpoint(current);
        const probeMs = Math.max(1, Math.min(remaining(), this.#pollIntervalMs * 10));
        if (await this.#probe(endpoint, probeMs)) return current;
      }
      if (remaining() <= 0) throw timedOut();
      await sleep(Math.min(this.#pollIntervalMs, remaining()));
    }
  }

  async #callWake(key: string, asleep: Result, context: ResolveContext): Promise<void> {
    try {
      await this.#resolver.wake?.(key, asleep, context);
    } catch (error) {
      throw new ResolverError("UNAVAILABLE", `waking ${key} failed`, {
        reason: "cold_start_failed",
        cause: error,
      });
    }
  }

  async #resolve(key: string, context: ResolveContext): Promise<Result> {
    try {
      return await this.#resolver.resolve(key, context);
    } catch (error) {
      throw toResolverError(error);
    }
  }
}

function withDeadline<T>(work: Promise<T>, ms: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), Math.max(0, ms));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
