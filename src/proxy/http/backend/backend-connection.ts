// One keep-alive connection to a backend, carrying one request at a time:
// it writes the request head and streams the body, reads the response head,
// then the body by its framing (none, Content-Length, chunked, or until the
// backend closes), and tells its pool whether it may serve another request.
//
// The socket's own timeout measures backend silence: the head timeout while a
// request waits for its answer, the body timeout inside a response, the
// keep-alive time while idle. It is switched off while the proxy waits on
// the client (an upload that pauses, a response read slowly), so a slow
// client is never blamed on the backend.
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { ChunkedDecoder } from "../chunked-decoder.ts";
import { HeadBuffer } from "../head-buffer.ts";
import { BackendClosedError, BackendProtocolError, BackendTimeoutError } from "./backend-errors.ts";
import type { BackendRequest, Exchange, ResponseHandler } from "./backend-request.ts";
import { parseResponseHead, type ResponseHead } from "./response-head.ts";

/** Largest response head accepted from a backend. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Interim (1xx) responses accepted before the final one. */
const MAX_INTERIM_RESPONSES = 16;
/** A backend's Keep-Alive hint is cut by this much, so the proxy lets go first. */
const HINT_MARGIN_MS = 1000;
const LAST_CHUNK = "0\r\n\r\n";

export interface ConnectionOwner {
  /** The exchange is over and the connection may carry another request. */
  connectionReleased(connection: BackendConnection): void;
  /** The connection is gone. */
  connectionClosed(connection: BackendConnection): void;
}

type Framing = "none" | "length" | "chunked" | "close";

export class BackendConnection implements Exchange {
  readonly #socket: Socket;
  readonly #owner: ConnectionOwner;
  readonly #keepAliveMs: number;
  #closed = false;
  #responses = 0;

  // The exchange in progress, if any.
  #request: BackendRequest | undefined;
  #handler: ResponseHandler | undefined;
  /** The start of a response head whose end has not come yet. */
  readonly #pendingHead = new HeadBuffer();
  #interimResponses = 0;
  #head: ResponseHead | undefined;
  #framing: Framing = "none";
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined;
  #bytesSeen = false;
  #requestSent = false;
  /** When the whole request had been written (performance.now()). */
  #sentAt = 0;
  /** A write of the request body waits for the backend to read. */
  #writeBlocked = false;
  #paused = false;

  constructor(socket: Socket, owner: ConnectionOwner, keepAliveMs: number) {
    this.#socket = socket;
    this.#owner = owner;
    this.#keepAliveMs = keepAliveMs;
    socket.setNoDelay(true);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
    socket.on("timeout", this.#onTimeout);
    socket.setTimeout(keepAliveMs);
  }

  /** It has carried a response before: its peer may have closed it since. */
  get reused(): boolean {
    return this.#responses > 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends `request`; `handler` hears about the response. */
  send(request: BackendRequest, handler: ResponseHandler): void {
    this.#request = request;
    this.#handler = handler;
    this.#pendingHead.clear();
    this.#interimResponses = 0;
    this.#head = undefined;
    this.#decoder = undefined;
    this.#bytesSeen = false;
    this.#paused = false;
    this.#writeBlocked = false;
    this.#requestSent = request.body === null;
    this.#sentAt = performance.now();
    this.#armTimer();
    // Latin-1, as it was read: header bytes above 0x7f reach the backend unchanged.
    this.#socket.write(request.head, "latin1");
    if (request.body) this.#streamBody(request.body, request.chunked);
  }

  abort(reason: Error): void {
    if (this.#handler) this.#fail(reason);
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#armTimer();
    this.#socket.resume();
  }

  /** Closes it (when idle, or to give up an exchange). */
  destroy(): void {
    this.#socket.destroy();
  }

  #streamBody(body: Readable, chunked: boolean): void {
    const socket = this.#socket;
    const onChunk = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      let flushed: boolean;
      if (chunked) {
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        flushed = socket.write("\r\n");
        socket.uncork();
      } else {
        flushed = socket.write(chunk);
      }
      if (!flushed) {
        body.pause();
        this.#writeBlocked = true;
        this.#armTimer();
        socket.once("drain", () => {
          this.#writeBlocked = false;
          this.#armTimer();
          body.resume();
        });
      }
    };
    const onEnd = (): void => {
      detach();
      if (chunked) socket.write(LAST_CHUNK);
      this.#requestSent = true;
      this.#sentAt = performance.now();
      this.#armTimer();
    };
    const onError = (error: Error): void => {
      detach();
      if (this.#handler) this.#fail(error);
    };
    const detach = (): void => {
      body.off("data", onChunk);
      body.off("end", onEnd);
      body.off("error", onError);
      socket.off("close", detach);
    };
    body.on("data", onChunk);
    body.once("end", onEnd);
    body.once("error", onError);
    // When the exchange is given up, the rest of the body is no business of this socket's.
    socket.once("close", detach);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (!this.#handler) {
      // An idle connection has nothing to say; bytes now mean it cannot be trusted.
      this.#socket.destroy();
      return;
    }
    this.#bytesSeen = true;
    try {
      this.#read(chunk);
    } catch (error) {
      this.#fail(error as Error);
    }
  };

  #read(chunk: Buffer): void {
    let input = chunk;
    if (!this.#head) {
      const body = this.#readHead(chunk);
      if (!body || !this.#handler) return;
      input = body;
      if (this.#framing === "none") {
        this.#complete(input.length);
        return;
      }
    }
    switch (this.#framing) {
      case "length": {
        const take = Math.min(this.#remaining, input.length);
        this.#remaining -= take;
        const done = this.#remaining === 0;
        if (take > 0) this.#deliver(take === input.length ? input : input.subarray(0, take));
        if (done && this.#handler) this.#complete(input.length - take);
        return;
      }
      case "chunked": {
        const decoder = this.#decoder as ChunkedDecoder;
        const used = decoder.push(input, (data) => this.#deliver(data));
        if (decoder.done && this.#handler) this.#complete(input.length - used);
        return;
      }
      case "close":
        if (input.length > 0) this.#deliver(input);
        return;
    }
  }

  /**
   * Reads the response head, skipping interim 1xx responses. Returns the
   * bytes after it, or undefined while it is incomplete.
   */
  #readHead(chunk: Buffer): Buffer | undefined {
    let rest = chunk;
    // Only the new bytes (and the three before them) can complete the head.
    let searchFrom = 0;
    if (this.#pendingHead.length > 0) {
      searchFrom = this.#pendingHead.length - 3;
      rest = this.#pendingHead.append(chunk);
    }
    for (;;) {
      const head = parseResponseHead(rest, MAX_HEAD_BYTES, Math.max(0, searchFrom));
      if (!head) {
        this.#checkHeadDeadline();
        this.#pendingHead.keep(rest);
        return undefined;
      }
      rest = rest.subarray(head.size);
      searchFrom = 0;
      if (head.status === 101) throw new BackendProtocolError("unexpected 101 response");
      if (head.status >= 200) {
        this.#pendingHead.clear();
        this.#begin(head);
        return rest;
      }
      if (++this.#interimResponses > MAX_INTERIM_RESPONSES) {
        throw new BackendProtocolError("too many interim responses");
      }
      this.#checkHeadDeadline();
    }
  }

  /**
   * The socket's timeout measures silence, which a backend trickling its
   * head (or interim responses) never lets happen: the final head is also
   * due within the head timeout of the request having been sent.
   */
  #checkHeadDeadline(): void {
    const request = this.#request;
    if (request && this.#requestSent && performance.now() - this.#sentAt > request.headTimeoutMs) {
      throw new BackendTimeoutError("head");
    }
  }

  #begin(head: ResponseHead): void {
    this.#head = head;
    const noBody = this.#request?.method === "HEAD" || head.status === 204 || head.status === 304;
    if (noBody) {
      this.#framing = "none";
    } else if (head.chunked) {
      this.#framing = "chunked";
      this.#decoder = new ChunkedDecoder((message) => new BackendProtocolError(message));
    } else if (head.contentLength !== undefined) {
      this.#framing = head.contentLength === 0 ? "none" : "length";
      this.#remaining = head.contentLength;
    } else {
      this.#framing = "close";
    }
    this.#armTimer();
    this.#handler?.onHead(head);
  }

  #deliver(data: Buffer): void {
    const handler = this.#handler;
    if (!handler || handler.onData(data) || this.#paused) return;
    this.#paused = true;
    this.#armTimer();
    this.#socket.pause();
  }

  /** The response is complete; `extraBytes` arrived after it. */
  #complete(extraBytes: number): void {
    const handler = this.#handler as ResponseHandler;
    const head = this.#head as ResponseHead;
    const reusable =
      head.keepAlive && this.#framing !== "close" && this.#requestSent && extraBytes === 0;
    this.#handler = undefined;
    this.#request = undefined;
    this.#responses += 1;
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    handler.onEnd();
    if (!reusable || this.#closed) {
      this.#socket.destroy();
      return;
    }
    const hint = head.keepAliveTimeoutMs;
    const idleMs =
      hint === undefined ? this.#keepAliveMs : Math.min(this.#keepAliveMs, hint - HINT_MARGIN_MS);
    if (idleMs <= 0) {
      this.#socket.destroy();
      return;
    }
    this.#socket.setTimeout(idleMs);
    this.#owner.connectionReleased(this);
  }

  /**
   * Sets the socket's timeout for what the exchange waits on now. Waiting
   * on the client (its upload, or its reading of the response) is not
   * backend silence.
   */
  #armTimer(): void {
    const request = this.#request;
    if (!request) return;
    let timeoutMs: number;
    if (this.#paused) timeoutMs = 0;
    else if (!this.#requestSent && !this.#writeBlocked) timeoutMs = 0;
    else if (this.#head) timeoutMs = request.bodyTimeoutMs;
    else timeoutMs = request.headTimeoutMs;
    this.#socket.setTimeout(timeoutMs);
  }

  #fail(error: Error): void {
    const handler = this.#handler;
    this.#handler = undefined;
    this.#request = undefined;
    this.#socket.destroy();
    handler?.onError(error);
  }

  readonly #onEnd = (): void => {
    if (!this.#handler) return;
    if (this.#head && this.#framing === "close") this.#complete(0);
    else this.#fail(this.#closedError());
  };

  readonly #onError = (error: Error): void => {
    if (this.#handler) this.#fail(this.#closedError(error));
  };

  readonly #onClose = (): void => {
    this.#closed = true;
    if (this.#handler) this.#fail(this.#closedError());
    this.#owner.connectionClosed(this);
  };

  readonly #onTimeout = (): void => {
    if (!this.#handler) {
      this.#socket.destroy(); // idle for its keep-alive time
      return;
    }
    this.#fail(new BackendTimeoutError(this.#head ? "body" : "head"));
  };

  #closedError(cause?: Error): BackendClosedError {
    return new BackendClosedError(!this.#bytesSeen, this.reused, { cause });
  }
}
