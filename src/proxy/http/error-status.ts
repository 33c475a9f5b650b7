// What the client is told when a request cannot be proxied: every failure
// becomes one HTTP status with a short plain-text reason. Internals (causes,
// stack traces, backend addresses) are never sent.
import { ResolverError } from "../core/index.ts";
import { BackendBusyError, BackendTimeoutError } from "./backend/backend-errors.ts";
import { ClientRequestError } from "./client/request-error.ts";

export interface ErrorResponse {
  readonly status: number;
  readonly message: string;
  /** Seconds, for a Retry-After header. */
  readonly retryAfter?: number;
  /** A short label for metrics and logs. */
  readonly reason: string;
}

/** Raised while streaming a request body that is larger than the limit. */
export class BodyTooLargeError extends Error {
  readonly code = "ERR_NEXUS_BODY_TOO_LARGE";
  constructor(limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/**
 * The client closed its connection before its response was complete. It says
 * nothing about the backend, so it never feeds a circuit breaker.
 */
export class ClientGoneError extends Error {
  readonly code = "ERR_NEXUS_CLIENT_GONE";
  constructor() {
    super("the client went away");
    this.name = "ClientGoneError";
  }
}

/**
 * A resolver or router failure as an HTTP status. NOT_FOUND is 404: the
 * proxy is the origin of the answer "nothing is served under this Host",
 * just as a web server with no matching virtual host would say.
 */
export function responseForResolverError(error: ResolverError): ErrorResponse {
  const reason = error.reason ?? error.code.toLowerCase();
  switch (error.code) {
    case "NOT_FOUND":
      return { status: 404, message: "no route for this host", reason };
    case "FORBIDDEN":
      return { status: 403, message: "the backend for this host is not allowed", reason };
    case "UNAVAILABLE":
      return {
        status: 503,
        message: "the backend for this host is unavailable",
        retryAfter: Math.max(1, Math.ceil((error.retryAfterMs ?? 1000) / 1000)),
        reason,
      };
    case "TIMEOUT":
      return { status: 504, message: "the backend for this host did not answer in time", reason };
    case "INTERNAL":
      return { status: 502, message: "the route for this host could not be resolved", reason };
  }
}

/** Any failure while exchanging a request with a backend as an HTTP status. */
export function responseForBackendError(error: unknown): ErrorResponse {
  if (error instanceof ResolverError) return responseForResolverError(error);
  if (error instanceof BodyTooLargeError) {
    return { status: 413, message: "request body too large", reason: "body_too_large" };
  }
  if (error instanceof ClientRequestError) {
    // The client's own request broke (a malformed or too slow body): its fault, not the backend's.
    return { status: error.status, message: error.message, reason: `client_${error.status}` };
  }
  if (error instanceof ClientGoneError) {
    // Nobody reads the answer; 499 (nginx's "client closed request") is for metrics.
    return { status: 499, message: "client closed the request", reason: "client_closed" };
  }
  if (error instanceof BackendBusyError) {
    // Busy is not broken: slow readers or long streams may hold every connection.
    return {
      status: 503,
      message: "the backend for this host is busy",
      retryAfter: 1,
      reason: "pool_exhausted",
    };
  }
  if (error instanceof BackendTimeoutError) {
    return {
      status: 504,
      message: "the backend did not answer in time",
      reason: "backend_timeout",
    };
  }
  return { status: 502, message: "bad response from the backend", reason: "backend_error" };
}
