// The one entry point every protocol adapter uses: turn a routing key into a
// Route (resolver answer, parsed endpoint) and open a connection to it. The
// routing cache, cold start, SSRF guard, circuit breakers, health checks,
// activity tracking and metrics all live behind these two calls, so that
// adapters never change when they do.
import type { Socket } from "node:net";
import type { Registry } from "prom-client";
import { ActivityTracker } from "./activity-tracker.ts";
import {
  type BreakerPass,
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from "./circuit-breaker.ts";
import { ColdStartGate, type ColdStartOptions, type ReadinessProbe } from "./cold-start-gate.ts";
import { dial } from "./dial.ts";
import { type Endpoint, formatEndpoint, resultEndpoint } from "./endpoint.ts";
import { HealthChecker, type HealthCheckOptions, type HealthDial } from "./health-checker.ts";
import { ProxyMetrics } from "./proxy-metrics.ts";
import type { ResolveContext, Resolver, Result } from "./resolver.ts";
import { ResolverError, toResolverError } from "./resolver-error.ts";
import { RouteCache, type RouteCacheOptions } from "./route-cache.ts";
import { SingleFlight } from "./single-flight.ts";
import { SsrfGuard, type SsrfGuardOptions } from "./ssrf-guard.ts";

export interface BackendRouterOptions {
  readonly resolver: Resolver;
  /** How long a backend may take to accept a connection (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** The routing cache (on by default); false asks the resolver every time. */
  readonly cache?: RouteCacheOptions | false;
  /** The SSRF guard (on by default); false skips it. Tests allow LOOPBACK_RANGES. */
  readonly ssrf?: SsrfGuardOptions | false;
  /** Circuit breakers per backend (on by default); false turns them off. */
  readonly breaker?: CircuitBreakerOptions | false;
  /** Active health checks of routed backends (off unless given). */
  readonly healthCheck?: HealthCheckOptions | false;
  readonly coldStart?: ColdStartOptions;
  /** How often open connections count as activity, in ms (default 10 s). */
  readonly activityIntervalMs?: number;
  /** Where metrics go: a ProxyMetrics, a prom-client registry, or a registry of their own. */
  readonly metrics?: ProxyMetrics | Registry;
}

/** A resolved routing key. */
export interface Route {
  readonly key: string;
  readonly endpoint: Endpoint;
  /** The endpoint as text (`host:port`, `[v6]:port`, `unix:/path`): the backend's name in breakers and metrics. */
  readonly backend: string;
  readonly result: Result;
  /** True when the answer came from the routing cache. */
  readonly cacheHit: boolean;
  /** Milliseconds spent waiting for a sleeping backend to wake (0 if awake). */
  readonly coldStartMs: number;
}

export interface RouteLookupOptions {
  /** Abort when the client leaves: a connection queued on a cold start gives its place back. */
  readonly signal?: AbortSignal;
}

export interface ConnectOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Keep writing to the backend after it ended its side (for relays that keep half-close). */
  readonly allowHalfOpen?: boolean;
  /**
   * The caller admits each exchange itself (admit()) and tells the breaker
   * how it went (reportSuccess, reportFailure or reportInconclusive), so
   * the breaker is not asked again here and opening the connection is not
   * counted as a success: a backend that accepts and then fails every
   * request must be able to open its breaker, and a half-open probe is
   * judged by its answer. A failed connect still counts as a failure.
   */
  readonly judgedByExchange?: boolean;
  /** The connection will be relayed: its reads go straight to relay() (see DirectReads). */
  readonly directReads?: boolean;
}

/** What admit() let through: the breaker's pass, when the backend has a breaker. */
export interface Admission {
  readonly pass?: BreakerPass;
}

const NO_BREAKER: Admission = {};

export class BackendRouter {
  readonly resolver: Resolver;
  readonly metrics: ProxyMetrics;
  readonly #connectTimeoutMs: number;
  readonly #cache: RouteCache | undefined;
  readonly #resolutions = new SingleFlight<Result>();
  readonly #guard: SsrfGuard | undefined;
  readonly #breakerOptions: CircuitBreakerOptions | false;
  readonly #breakers = new Map<string, CircuitBreaker>();
  /** Active health checks, when configured; emits `change` (backend, healthy). */
  readonly health: HealthChecker | undefined;
  readonly #coldStart: ColdStartGate;
  readonly #activity: ActivityTracker;
  /** Parsed endpoints of answers seen, so a cached answer is parsed once. */
  /** Each answer's endpoint, parsed once, and its name. */
  readonly #targets = new WeakMap<Result, { endpoint: Endpoint; backend: string }>();

  constructor(options: BackendRouterOptions) {
    this.resolver = options.resolver;
    this.metrics =
      options.metrics instanceof ProxyMetrics ? options.metrics : new ProxyMetrics(options.metrics);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#cache = options.cache === false ? undefined : new RouteCache(options.cache);
    this.#guard = options.ssrf === false ? undefined : new SsrfGuard(options.ssrf);
    this.#breakerOptions = options.breaker ?? {};
    const healthDial: HealthDial = (endpoint, timeoutMs) =>
      dial(endpoint, { timeoutMs, guard: this.#guard, label: formatEndpoint(endpoint) });
    this.health = options.healthCheck
      ? new HealthChecker(options.healthCheck, healthDial)
      : undefined;
    this.health?.on("change", (backend, healthy) =>
      this.metrics.backendHealthy.set({ backend }, healthy ? 1 : 0),
    );
    this.#coldStart = new ColdStartGate(options.coldStart ?? {}, this.resolver, this.#probe);
    this.#activity = new ActivityTracker(this.resolver, options.activityIntervalMs);
  }

  /** Resolves `key`, waking its backend if it sleeps; rejects with a ResolverError. */
  async route(
    key: string,
    context: ResolveContext,
    options: RouteLookupOptions = {},
  ): Promise<Route> {
    const { result: answer, cacheHit } = await this.#lookup(key, context);
    const { result, coldStartMs } = answer.asleep
      ? await this.#wake(key, answer, context, options.signal)
      : { result: answer, coldStartMs: 0 };
    return this.#routeTo(key, result, cacheHit, coldStartMs);
  }

  /**
   * The route for `key` at once, when the routing cache holds an awake
   * backend for it; otherwise undefined, and `route()` is the way. Spares a
   * busy adapter the promise of `route()` on the common path.
   */
  cachedRoute(key: string): Route | undefined {
    const cached = this.#cache?.get(key);
    if (!cached || cached.error || cached.result.asleep) return undefined;
    this.metrics.cacheHits.inc();
    return this.#routeTo(key, cached.result, true, 0);
  }

  /**
   * Opens a connection to the route's backend. The resolver's onConnect and
   * onDisconnect hooks are called for it. Rejects with a ResolverError.
   */
  async connect(
    route: Route,
    context: ResolveContext,
    options: ConnectOptions = {},
  ): Promise<Socket> {
    const backend = route.backend;
    if (this.health && !this.health.isHealthy(backend)) throw this.#unhealthy(route);
    const breaker = this.#breaker(backend);
    const judged = options.judgedByExchange === true;
    const pass = judged ? undefined : breaker?.tryAcquire();
    if (breaker && !judged && !pass) throw this.#breakerOpen(route, breaker);
    const timeoutMs = options.timeoutMs ?? route.result.timeout ?? this.#connectTimeoutMs;
    let socket: Socket;
    try {
      socket = await dial(route.endpoint, {
        timeoutMs,
        signal: options.signal,
        guard: this.#guard,
        label: route.key,
        allowHalfOpen: options.allowHalfOpen,
        directReads: options.directReads,
      });
    } catch (thrown) {
      const error = toResolverError(thrown);
      const backendFault =
        error.reason === "backend_unreachable" || error.reason === "connect_timeout";
      if (backendFault) breaker?.recordFailure();
      else if (pass) breaker?.release(pass);
      throw this.#refused(error);
    }
    if (!options.judgedByExchange) breaker?.recordSuccess();
    this.#track(route, context, socket, backend);
    return socket;
  }

  /**
   * Lets one exchange through to the route's backend, or throws what
   * connect() would refuse with now (backend unhealthy, breaker open; in
   * half-open, a probe already in flight). For adapters that judge each
   * exchange: a request on a pooled connection is held back by an open
   * breaker like a new connection, and in half-open exactly one exchange,
   * pooled or not, is the probe. The pass goes back with the outcome
   * (connect() with `judgedByExchange`, then a report with the admission).
   */
  admit(route: Route): Admission {
    if (this.health && !this.health.isHealthy(route.backend)) throw this.#unhealthy(route);
    const breaker = this.#breaker(route.backend);
    if (!breaker) return NO_BREAKER;
    const pass = breaker.tryAcquire();
    if (!pass) throw this.#breakerOpen(route, breaker);
    return { pass };
  }

  /** Passive outlier detection: an adapter saw the backend fail after connecting (e.g. a 502). */
  reportFailure(route: Route): void {
    this.#breaker(route.backend)?.recordFailure();
  }

  /** An adapter saw the backend answer well; in half-open this closes the breaker. */
  reportSuccess(route: Route): void {
    this.#breaker(route.backend)?.recordSuccess();
  }

  /**
   * The admitted exchange ended without telling anything about the backend
   * (the client left, or the router refused it and counted that itself): if
   * it was the half-open probe, another may go.
   */
  reportInconclusive(route: Route, admission: Admission): void {
    if (admission.pass) this.#breaker(route.backend)?.release(admission.pass);
  }

  /** Forgets cached answers (one key, or all) here and in the resolver. */
  invalidate(key?: string): void {
    if (key === undefined) this.#cache?.clear();
    else this.#cache?.delete(key);
    this.resolver.invalidateCache?.(key);
  }

  /** The breaker state of a backend (`host:port`, `[v6]:port` or `unix:/path`). */
  breakerState(backend: string): BreakerState {
    return this.#breakers.get(backend)?.state ?? "closed";
  }

  /** The active health check verdict of a backend (true when unchecked). */
  isHealthy(backend: string): boolean {
    return this.health?.isHealthy(backend) ?? true;
  }

  async close(): Promise<void> {
    this.health?.close();
    this.#activity.close();
    await this.resolver.close?.();
  }

  async #lookup(
    key: string,
    context: ResolveContext,
  ): Promise<{ result: Result; cacheHit: boolean }> {
    const cached = this.#cache?.get(key);
    if (cached) {
      this.metrics.cacheHits.inc();
      if (cached.error) throw cached.error;
      return { result: cached.result, cacheHit: true };
    }
    if (this.#cache) this.metrics.cacheMisses.inc();
    const result = await this.#resolutions.run(key, () => this.#resolve(key, context));
    return { result, cacheHit: false };
  }

  async #resolve(key: string, context: ResolveContext): Promise<Result> {
    try {
      const result = await this.resolver.resolve(key, context);
      this.metrics.resolvedOk.inc();
      this.#cache?.set(key, result);
      return result;
    } catch (thrown) {
      const error = toResolverError(thrown);
      this.metrics.resolutions.inc({ outcome: error.code });
      if (error.code === "NOT_FOUND") this.#cache?.setNotFound(key, error);
      throw error;
    }
  }

  async #wake(
    key: string,
    asleep: Result,
    context: ResolveContext,
    signal: AbortSignal | undefined,
  ): Promise<{ result: Result; coldStartMs: number }> {
    try {
      const { result, waitedMs } = await this.#coldStart.wait(key, asleep, context, signal);
      this.#cache?.set(key, result);
      this.metrics.coldStarts.inc({ outcome: "ready" });
      this.metrics.coldStartWait.observe(waitedMs / 1000);
      // Any caller that queued waited, however briefly: never report 0.
      return { result, coldStartMs: Math.max(1, Math.round(waitedMs)) };
    } catch (thrown) {
      const error = toResolverError(thrown);
      this.metrics.coldStarts.inc({ outcome: error.reason ?? error.code });
      throw error;
    }
  }

  /** Readiness of a woken backend: it accepts a connection (through the SSRF guard). */
  readonly #probe: ReadinessProbe = async (endpoint, timeoutMs) => {
    try {
      const socket = await dial(endpoint, {
        timeoutMs,
        guard: this.#guard,
        label: "readiness probe",
      });
      socket.destroy();
      return true;
    } catch (error) {
      if (error instanceof ResolverError && error.code === "FORBIDDEN") throw error;
      return false;
    }
  };

  #routeTo(key: string, result: Result, cacheHit: boolean, coldStartMs: number): Route {
    let target = this.#targets.get(result);
    if (!target) {
      const endpoint = resultEndpoint(result);
      target = { endpoint, backend: formatEndpoint(endpoint) };
      this.#targets.set(result, target);
    }
    this.health?.watch(target.endpoint);
    return {
      key,
      endpoint: target.endpoint,
      backend: target.backend,
      result,
      cacheHit,
      coldStartMs,
    };
  }

  #breaker(backend: string): CircuitBreaker | undefined {
    if (this.#breakerOptions === false) return undefined;
    let breaker = this.#breakers.get(backend);
    if (!breaker) {
      breaker = new CircuitBreaker(this.#breakerOptions, (state) =>
        this.metrics.setBreakerState(backend, state),
      );
      this.#breakers.set(backend, breaker);
    }
    return breaker;
  }

  #track(route: Route, context: ResolveContext, socket: Socket, backend: string): void {
    this.resolver.onConnect?.(route.key, route.result, context);
    this.#activity.opened(route.key);
    this.metrics.backendConnections.inc({ backend });
    socket.once("close", () => {
      this.metrics.backendConnections.dec({ backend });
      this.#activity.closed(route.key);
      this.resolver.onDisconnect?.(route.key, route.result, context);
    });
  }

  #unhealthy(route: Route): ResolverError {
    return this.#refused(
      new ResolverError("UNAVAILABLE", `backend for ${route.key} fails its health checks`, {
        reason: "backend_unhealthy",
      }),
    );
  }

  #breakerOpen(route: Route, breaker: CircuitBreaker): ResolverError {
    return this.#refused(
      new ResolverError("UNAVAILABLE", `backend for ${route.key} failed recently`, {
        reason: "breaker_open",
        retryAfterMs: breaker.retryAfterMs,
      }),
    );
  }

  #refused(error: ResolverError): ResolverError {
    this.metrics.connectErrors.inc({ reason: error.reason ?? error.code });
    return error;
  }
}
