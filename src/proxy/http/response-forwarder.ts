// Streams one backend response to the client as it arrives: status and
// headers first, then each piece of the body written as it comes. When the
// client cannot keep up, reading from the backend pauses until the client
// drains, so a large body never piles up in the proxy. Node's server frames
// the body for the client (Content-Length as the backend sent it, else
// chunked, or close-delimited for an HTTP/1.0 client).
import type { ServerResponse } from "node:http";
import type { Exchange, ResponseHandler } from "./backend/backend-request.ts";
import type { ResponseHead } from "./backend/response-head.ts";
import { ClientGoneError } from "./error-status.ts";
import { responseHeadersForClient } from "./forwarded-headers.ts";

export interface ForwardOutcome {
  readonly status: number;
  /** The failure, when the exchange broke; `status` is then what the client was told (or 0). */
  readonly error?: unknown;
}

export class ResponseForwarder implements ResponseHandler {
  readonly #res: ServerResponse;
  readonly #via: string;
  readonly #extraHeaders: readonly string[] | undefined;
  readonly #done: (outcome: ForwardOutcome) => void;
  #exchange: Exchange | undefined;
  #status = 0;
  #finished = false;
  #waitingForDrain = false;

  constructor(
    res: ServerResponse,
    via: string,
    /** Flat name, value list added to the response headers. */
    extraHeaders: readonly string[] | undefined,
    done: (outcome: ForwardOutcome) => void,
  ) {
    this.#res = res;
    this.#via = via;
    this.#extraHeaders = extraHeaders;
    this.#done = done;
    res.once("close", this.#onClientClose);
  }

  /** The exchange this forwarder listens to; it is aborted if the client leaves. */
  attach(exchange: Exchange): void {
    this.#exchange = exchange;
    if (this.#res.destroyed) exchange.abort(new ClientGoneError());
  }

  onHead(head: ResponseHead): void {
    this.#status = head.status;
    const res = this.#res;
    if (res.destroyed) {
      this.#exchange?.abort(new ClientGoneError());
      return;
    }
    const headers = responseHeadersForClient(head.headers, this.#via);
    // One length, as the backend declared it (repeats and lists merged); a 204 has none (RFC 9110 §8.6).
    if (head.contentLength !== undefined && head.status !== 204) {
      headers.push("content-length", String(head.contentLength));
    }
    if (this.#extraHeaders) headers.push(...this.#extraHeaders);
    if (head.reason) res.writeHead(head.status, head.reason, headers);
    else res.writeHead(head.status, headers);
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    if (!this.#waitingForDrain) {
      this.#waitingForDrain = true;
      this.#res.once("drain", this.#onDrain);
    }
    return false;
  }

  onEnd(): void {
    this.#res.end();
    this.#finish({ status: this.#status });
  }

  onError(error: Error): void {
    this.fail(error);
  }

  /** Ends the exchange with `error` (also for a dispatch that threw before starting). */
  fail(error: unknown): void {
    this.#finish({ status: this.#status, error });
  }

  readonly #onDrain = (): void => {
    this.#waitingForDrain = false;
    this.#exchange?.resume();
  };

  readonly #onClientClose = (): void => {
    if (!this.#finished) this.#exchange?.abort(new ClientGoneError());
  };

  #finish(outcome: ForwardOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#res.off("close", this.#onClientClose);
    this.#res.off("drain", this.#onDrain);
    // Once the client has left, whatever broke (its upload cut short, the
    // exchange aborted) is the client's doing, not the backend's.
    if (outcome.error !== undefined && this.#res.destroyed) {
      this.#done({ status: outcome.status, error: new ClientGoneError() });
      return;
    }
    this.#done(outcome);
  }
}
