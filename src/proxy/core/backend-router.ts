// The one entry point every protocol adapter uses: turn a routing key into a
// Route (resolver answer, parsed endpoint) and open a connection to it.
// Later layers (routing cache, SSRF guard, circuit breakers, cold start)
// live behind these two calls so that adapters never change.
import { connect as netConnect, type Socket } from "node:net";
import { type Endpoint, EndpointSyntaxError, parseEndpoint } from "./endpoint.ts";
import type { ResolveContext, Resolver, Result } from "./resolver.ts";
import { ResolverError, toResolverError } from "./resolver-error.ts";

export interface BackendRouterOptions {
  readonly resolver: Resolver;
  /** How long a backend may take to accept a connection (default 5 s). */
  readonly connectTimeoutMs?: number;
}

/** A resolved routing key. */
export interface Route {
  readonly key: string;
  readonly endpoint: Endpoint;
  readonly result: Result;
  /** True when the answer came from the routing cache. */
  readonly cacheHit: boolean;
  /** Milliseconds spent waiting for a sleeping backend to wake (0 if awake). */
  readonly coldStartMs: number;
}

export interface ConnectOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export class BackendRouter {
  readonly resolver: Resolver;
  readonly #connectTimeoutMs: number;

  constructor(options: BackendRouterOptions) {
    this.resolver = options.resolver;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  }

  /** Resolves `key`; rejects with a ResolverError. */
  async route(key: string, context: ResolveContext): Promise<Route> {
    let result: Result;
    try {
      result = await this.resolver.resolve(key, context);
    } catch (error) {
      throw toResolverError(error);
    }
    return { key, endpoint: toEndpoint(result), result, cacheHit: false, coldStartMs: 0 };
  }

  /**
   * Opens a connection to the route's backend. The resolver's onConnect and
   * onDisconnect hooks are called for it. Rejects with a ResolverError.
   */
  connect(route: Route, context: ResolveContext, options: ConnectOptions = {}): Promise<Socket> {
    const timeoutMs = options.timeoutMs ?? route.result.timeout ?? this.#connectTimeoutMs;
    return new Promise((resolve, reject) => {
      const socket =
        route.endpoint.kind === "unix"
          ? netConnect({ path: route.endpoint.path })
          : netConnect({ host: route.endpoint.host, port: route.endpoint.port, noDelay: true });
      const fail = (error: ResolverError) => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (error: Error) =>
        fail(
          new ResolverError("UNAVAILABLE", `backend for ${route.key} is unreachable`, {
            reason: "backend_unreachable",
            cause: error,
          }),
        );
      const onAbort = () =>
        fail(
          new ResolverError("UNAVAILABLE", "connection attempt aborted", {
            cause: options.signal?.reason,
          }),
        );
      const timer = setTimeout(
        () =>
          fail(
            new ResolverError(
              "TIMEOUT",
              `backend for ${route.key} did not accept within ${timeoutMs} ms`,
              {
                reason: "connect_timeout",
              },
            ),
          ),
        timeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        socket.off("error", onError);
        options.signal?.removeEventListener("abort", onAbort);
      };
      socket.once("error", onError);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("connect", () => {
        cleanup();
        this.resolver.onConnect?.(route.key, route.result, context);
        this.resolver.trackActivity?.(route.key);
        socket.once("close", () => this.resolver.onDisconnect?.(route.key, route.result, context));
        resolve(socket);
      });
    });
  }

  async close(): Promise<void> {
    await this.resolver.close?.();
  }
}

function toEndpoint(result: Result): Endpoint {
  try {
    return parseEndpoint(result.endpoint);
  } catch (error) {
    if (error instanceof EndpointSyntaxError) {
      throw new ResolverError("INTERNAL", error.message, {
        reason: "resolver_failed",
        cause: error,
      });
    }
    throw error;
  }
}
