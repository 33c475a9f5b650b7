// The errors a Resolver (or the proxy core around it) reports. Each protocol
// turns them into its own native error: an HTTP status, a PostgreSQL
// SQLSTATE, a MySQL ERR packet, an SMTP reply code.

export type ResolverErrorCode = "NOT_FOUND" | "UNAVAILABLE" | "TIMEOUT" | "FORBIDDEN" | "INTERNAL";

/**
 * Finer detail for protocols whose native errors tell these cases apart
 * (PostgreSQL says 57P03 for a backend still starting, 53300 for too many
 * connections, 08006 for an unreachable server).
 */
export type ResolverErrorReason =
  | "unknown_route" // NOT_FOUND: nothing serves this key
  | "resolver_failed" // INTERNAL: the resolver itself broke
  | "blocked_address" // FORBIDDEN: the SSRF guard refused the backend's address
  | "backend_unhealthy" // UNAVAILABLE: active health checks report the backend down
  | "breaker_open" // UNAVAILABLE: the backend failed recently; fail fast
  | "backend_unreachable" // UNAVAILABLE: connecting to the backend failed
  | "queue_full" // UNAVAILABLE: too many connections wait on a cold start
  | "cold_start_failed" // UNAVAILABLE: waking the backend failed
  | "connect_timeout" // TIMEOUT: the backend did not accept in time
  | "cold_start_timeout"; // TIMEOUT: the backend did not wake in time

export interface ResolverErrorOptions {
  readonly reason?: ResolverErrorReason;
  /** A hint for protocols that can say when to retry (HTTP Retry-After). */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

export class ResolverError extends Error {
  readonly code: ResolverErrorCode;
  readonly reason: ResolverErrorReason | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ResolverErrorCode, message: string, options: ResolverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ResolverError";
    this.code = code;
    this.reason = options.reason;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** Any thrown value as a ResolverError; unknown failures become INTERNAL. */
export function toResolverError(error: unknown): ResolverError {
  if (error instanceof ResolverError) return error;
  return new ResolverError("INTERNAL", "the resolver failed", {
    reason: "resolver_failed",
    cause: error,
  });
}

/** The NOT_FOUND error for a key that no route serves. */
export function unknownRoute(resourceId: string): ResolverError {
  return new ResolverError("NOT_FOUND", `no route for ${JSON.stringify(resourceId)}`, {
    reason: "unknown_route",
  });
}
