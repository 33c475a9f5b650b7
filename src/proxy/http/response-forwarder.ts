// Streams one backend response to the client as undici delivers it: status
// and headers first, then each chunk written as it arrives. When the client
// cannot keep up, the backend read is paused until the client drains, so a
// large body never piles up in the proxy.
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { Dispatcher } from "undici";
import { ClientGoneError } from "./error-status.ts";
import { responseHeadersForClient } from "./forwarded-headers.ts";

export interface ForwardOutcome {
  readonly status: number;
  /** The failure, when the exchange broke; `status` is then what the client was told (or 0). */
  readonly error?: unknown;
}

export class ResponseForwarder implements Dispatcher.DispatchHandler {
  readonly #res: ServerResponse;
  readonly #via: string;
  readonly #extraHeaders: IncomingHttpHeaders | undefined;
  readonly #done: (outcome: ForwardOutcome) => void;
  #controller: Dispatcher.DispatchController | undefined;
  #status = 0;
  #finished = false;

  constructor(
    res: ServerResponse,
    via: string,
    extraHeaders: IncomingHttpHeaders | undefined,
    done: (outcome: ForwardOutcome) => void,
  ) {
    this.#res = res;
    this.#via = via;
    this.#extraHeaders = extraHeaders;
    this.#done = done;
    res.once("close", this.#onClientClose);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#res.destroyed) controller.abort(new ClientGoneError());
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.#status = statusCode;
    const out = responseHeadersForClient(headers, this.#via);
    if (this.#extraHeaders) Object.assign(out, this.#extraHeaders);
    const res = this.#res;
    if (res.destroyed) {
      controller.abort(new ClientGoneError());
      return;
    }
    if (statusMessage) res.writeHead(statusCode, statusMessage, out);
    else res.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#res.write(chunk)) {
      controller.pause();
      this.#res.once("drain", () => controller.resume());
    }
  }

  onResponseEnd(): void {
    this.#res.end();
    this.#finish({ status: this.#status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.fail(error);
  }

  /** Ends the exchange with `error` (also for a dispatch that threw before starting). */
  fail(error: unknown): void {
    this.#finish({ status: this.#status, error });
  }

  readonly #onClientClose = (): void => {
    if (!this.#finished) this.#controller?.abort(new ClientGoneError());
  };

  #finish(outcome: ForwardOutcome): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#res.off("close", this.#onClientClose);
    // Once the client has left, whatever broke (its upload cut short, the
    // exchange aborted) is the client's doing, not the backend's.
    if (outcome.error !== undefined && this.#res.destroyed) {
      this.#done({ status: outcome.status, error: new ClientGoneError() });
      return;
    }
    this.#done(outcome);
  }
}
