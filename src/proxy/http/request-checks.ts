// What the proxy checks in a request before any resolver is asked: exactly
// one valid Host (the routing key), a target that names no other host, and
// a declared body within the limit. (Framing the proxy cannot pass on was
// refused when the head was read.)
import type { RequestHead } from "./client/request-head.ts";
import type { ErrorResponse } from "./error-status.ts";
import { originFormTarget, routingKeyFromHost } from "./host.ts";

export interface RoutableRequest {
  /** The routing key, from the Host header. */
  readonly key: string;
  /** The request target in origin-form, as the backend gets it. */
  readonly target: string;
}

/** The request's routing key and target, or the answer that refuses it. */
export function checkRequest(
  head: RequestHead,
  maxBodyBytes?: number,
): RoutableRequest | ErrorResponse {
  const key = routingKeyFromHost(head.host);
  if (key === undefined) {
    return { status: 400, message: "missing or invalid Host header", reason: "bad_host" };
  }
  const target = originFormTarget(head.method, head.target, key);
  if (target === undefined) {
    return {
      status: 400,
      message: "request target does not match the Host header",
      reason: "bad_target",
    };
  }
  const length = head.contentLength;
  if (maxBodyBytes !== undefined && length !== undefined && length > maxBodyBytes) {
    return { status: 413, message: "request body too large", reason: "body_too_large" };
  }
  return { key, target };
}
