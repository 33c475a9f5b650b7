// What the proxy hands to a backend connection: the request head, already
// serialised, and the body as a stream; and the handler that is told, in
// order, about the response head, its body and its end, or one error.
import type { Readable } from "node:stream";
import type { ResponseHead } from "./response-head.ts";

export interface BackendRequest {
  readonly method: string;
  /** Request line and header fields, ending with the empty line. */
  readonly head: string;
  /** The body; null for none. */
  readonly body: Readable | null;
  /** The body has no declared length: it is sent with chunked framing. */
  readonly chunked: boolean;
  /** Longest backend silence before the response head; then BackendTimeoutError("head"). */
  readonly headTimeoutMs: number;
  /** Longest backend silence inside the response body; then BackendTimeoutError("body"). */
  readonly bodyTimeoutMs: number;
}

export interface ResponseHandler {
  onHead(head: ResponseHead): void;
  /** A piece of the body; returning false pauses reading until `Exchange.resume()`. */
  onData(chunk: Buffer): boolean;
  onEnd(): void;
  /** The exchange failed; nothing else is called after it. */
  onError(error: Error): void;
}

/** A request on its way: its owner can stop it, or resume reading after onData returned false. */
export interface Exchange {
  abort(reason: Error): void;
  resume(): void;
}
