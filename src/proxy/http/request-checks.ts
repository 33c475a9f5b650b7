// What the proxy checks in a request before any resolver is asked: exactly
// one valid Host (the routing key), a target that names no other host, a
// transfer coding it can pass on, and a declared body within the limit.
import type { IncomingMessage } from "node:http";
import type { ErrorResponse } from "./error-status.ts";
import { hostHeaderCount, originFormTarget, routingKeyFromHost } from "./host.ts";

export interface RoutableRequest {
  /** The routing key, from the Host header. */
  readonly key: string;
  /** The request target in origin-form, as the backend gets it. */
  readonly target: string;
}

/** The request's routing key and target, or the answer that refuses it. */
export function checkRequest(
  req: IncomingMessage,
  maxBodyBytes?: number,
): RoutableRequest | ErrorResponse {
  const key =
    hostHeaderCount(req.rawHeaders) === 1 ? routingKeyFromHost(req.headers.host) : undefined;
  if (key === undefined) {
    return { status: 400, message: "missing or invalid Host header", reason: "bad_host" };
  }
  const target = originFormTarget(req.method ?? "", req.url ?? "", key);
  if (target === undefined) {
    return {
      status: 400,
      message: "request target does not match the Host header",
      reason: "bad_target",
    };
  }
  const coding = req.headers["transfer-encoding"];
  if (coding !== undefined && coding.trim().toLowerCase() !== "chunked") {
    // The body would go on chunked, losing the other coding (gzip, chunked).
    return { status: 501, message: "transfer coding not supported", reason: "unsupported_coding" };
  }
  const length = req.headers["content-length"];
  if (maxBodyBytes !== undefined && length !== undefined && Number(length) > maxBodyBytes) {
    return { status: 413, message: "request body too large", reason: "body_too_large" };
  }
  return { key, target };
}
