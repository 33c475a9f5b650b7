// The HTTP/1.1 keep-alive race: a backend closes an idle pooled connection
// (a service draining in a rolling reload) just as the proxy reuses it. The
// request then fails before any response byte, which says nothing about the
// backend's health; an idempotent request without a body may be sent again
// on a new connection (RFC 9112 §9.3.1), as nginx's proxy_next_upstream does.

/** Idempotent methods (RFC 9110 §9.2.2): sending one twice has the effect of once. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/** A request that may be sent again: idempotent and with no body to replay. */
export function mayResend(method: string | undefined, hasBody: boolean): boolean {
  return !hasBody && method !== undefined && IDEMPOTENT.has(method);
}

/** The connection was closed or reset before the response began (`status` 0). */
export function closedBeforeResponse(error: unknown, status: number): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return status === 0 && (code === "UND_ERR_SOCKET" || code === "ECONNRESET" || code === "EPIPE");
}

/**
 * The closed connection had already carried a response: it is the reuse
 * race, not a backend fault. undici's SocketError tells what the socket
 * read; a bare reset does not, and counts as a fault.
 */
export function wasReused(error: unknown): boolean {
  const socket = (error as { socket?: { bytesRead?: unknown } } | null)?.socket;
  return typeof socket?.bytesRead === "number" && socket.bytesRead > 0;
}
