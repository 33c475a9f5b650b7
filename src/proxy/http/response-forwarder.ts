// Streams one backend response to the client as it arrives: status and
// headers first, then each piece of the body written as it comes. When the
// client cannot keep up, reading from the backend pauses until the client
// drains, so a large body never piles up in the proxy. The client response
// frames the body for the client (Content-Length as the backend sent it,
// else chunked, or close-delimited for an HTTP/1.0 client).
import type { Exchange, ResponseHandler } from "./backend/backend-request.ts";
import type { ResponseHead } from "./backend/response-head.ts";
import type { ClientResponse, ResponseListener } from "./client/client-response.ts";
import { ClientGoneError } from "./error-status.ts";
import { responseHeadersForClient } from "./forwarded-headers.ts";

export interface ForwardOutcome {
  readonly status: number;
  /** The failure, when the exchange broke; `status` is then what the client was told (or 0). */
  readonly error?: unknown;
}

export class ResponseForwarder implements ResponseHandler, ResponseListener {
  readonly #res: ClientResponse;
  readonly #via: string;
  readonly #extraHeaders: readonly string[] | undefined;
  readonly #answered: () => void;
  readonly #done: (outcome: ForwardOutcome) => void;
  #exchange: Exchange | undefined;
  #status = 0;
  #finished = false;

  constructor(
    res: ClientResponse,
    via: string,
    /** Flat name, value list added to the response headers. */
    extraHeaders: readonly string[] | undefined,
    /** Called when the response head arrives (a half-open probe is judged by it). */
    answered: () => void,
    done: (outcome: ForwardOutcome) => void,
  ) {
    this.#res = res;
    this.#via = via;
    this.#extraHeaders = extraHeaders;
    this.#answered = answered;
    this.#done = done;
    res.listen(this);
  }

  /** The exchange this forwarder listens to; it is aborted if the client leaves. */
  attach(exchange: Exchange): void {
    this.#exchange = exchange;
    if (this.#res.gone) exchange.abort(new ClientGoneError());
  }

  onHead(head: ResponseHead): void {
    this.#status = head.status;
    this.#answered();
    const res = this.#res;
    if (res.gone) {
      this.#exchange?.abort(new ClientGoneError());
      return;
    }
    const headers = responseHeadersForClient(head.headers, this.#via);
    if (this.#extraHeaders) headers.push(...this.#extraHeaders);
    // One length, as the backend declared it (repeats and lists merged).
    res.writeHead(head.status, head.reason, headers, head.contentLength);
  }

  onData(chunk: Buffer): boolean {
    return this.#res.write(chunk);
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

  onDrain(): void {
    if (!this.#finished) this.#exchange?.resume();
  }

  onClientGone(): void {
    if (!this.#finished) this.#exchange?.abort(new ClientGoneError());
  }

  #finish(outcome: ForwardOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#res.listen(undefined);
    // Once the client has left, whatever broke (its upload cut short, the
    // exchange aborted) is the client's doing, not the backend's.
    if (outcome.error !== undefined && this.#res.gone) {
      this.#done({ status: outcome.status, error: new ClientGoneError() });
      return;
    }
    this.#done(outcome);
  }
}
