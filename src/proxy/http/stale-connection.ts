// The HTTP/1.1 keep-alive race: a backend closes an idle pooled connection
// (a service draining in a rolling reload) just as the proxy reuses it. The
// request then fails before any response byte, which says nothing about the
// backend's health; an idempotent request without a body may be sent again
// on a new connection (RFC 9112 §9.3.1), as nginx's proxy_next_upstream does.
import { BackendClosedError } from "./backend/backend-errors.ts";

/** Idempotent methods (RFC 9110 §9.2.2): sending one twice has the effect of once. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** A request that may be sent again: idempotent and with no body to replay. */
export function mayResend(method: string | undefined, hasBody: boolean): boolean {
  return !hasBody && method !== undefined && IDEMPOTENT.has(method);
}

/** The connection was closed or reset before the response began. */
export function closedBeforeResponse(error: unknown): boolean {
  return error instanceof BackendClosedError && error.beforeResponse;
}

/** The closed connection had already carried a response: the reuse race, not a backend fault. */
export function wasReused(error: unknown): boolean {
  return error instanceof BackendClosedError && error.reused;
}
