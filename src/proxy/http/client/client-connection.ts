// One client connection, read straight from its socket: request heads are
// parsed as they arrive, each request is handed to the proxy with its body
// stream and its response, one at a time, and bytes the client pipelines
// behind a request wait until that request's response is done. Deadlines
// (slow head, slow body, idle, keep-alive) are checked by the connection
// set's sweep, not by a timer per request.
import type { Socket } from "node:net";
import { HeadBuffer } from "../head-buffer.ts";
import { closeLingering } from "../lingering-close.ts";
import { writeRawResponse } from "../raw-response.ts";
import { ClientResponse, type ResponseOwner } from "./client-response.ts";
import { RequestBody } from "./request-body.ts";
import { ClientRequestError } from "./request-error.ts";
import { parseRequestHead, type RequestHead } from "./request-head.ts";

export interface ClientLimits {
  readonly maxHeaderBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** 0: never. */
  readonly idleTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxBodyBytes: number | undefined;
}

/** One request as the proxy gets it. */
export interface ClientRequest {
  readonly head: RequestHead;
  /** The body stream; null when the request has none. */
  readonly body: RequestBody | null;
  readonly response: ClientResponse;
  readonly connection: ClientConnection;
}

export interface RequestHandler {
  onRequest(request: ClientRequest): void;
  /** An upgrade request: the socket is the handler's from now on; `early` came after the head. */
  onUpgrade(head: RequestHead, connection: ClientConnection, early: Buffer): void;
  /** A request refused before it could be handed over (malformed, too large, too slow). */
  onRefused(error: ClientRequestError): void;
}

type Phase =
  | "waiting" // for the next request head (some of it may have come)
  | "serving" // a request is being answered
  | "closing" // the last answer is written; the client's end is awaited
  | "handed-over" // upgraded: the socket belongs to a tunnel
  | "closed";

/** Bytes pipelined behind a request kept while it is served, beyond a head's size; then reading pauses. */
const PIPELINE_SLACK = 16 * 1024;
const CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n";

export class ClientConnection implements ResponseOwner {
  readonly socket: Socket;
  /** Cached: each read of `socket.remoteAddress` asks the kernel. */
  readonly remoteAddress: string | undefined;
  readonly #handler: RequestHandler;
  readonly #limits: ClientLimits;
  readonly #keepAliveField: string;
  #phase: Phase = "waiting";
  readonly #pendingHead = new HeadBuffer();
  /** Bytes received and not read yet: pipelined behind the request being served. */
  #queued: Buffer | undefined;
  #consuming = false;
  #head: RequestHead | undefined;
  #body: RequestBody | null = null;
  #response: ClientResponse | undefined;
  #served = 0;
  /** The proxy is shutting down: the current answer is the last. */
  #shuttingDown = false;
  #pausedForQueue = false;
  #pausedForBody = false;
  // Times (performance.now()) the deadlines run from.
  #phaseSince: number;
  #headSince = 0;
  #lastActivity: number;
  /** `socket.bytesWritten` at the last check: bytes the client took since then are activity too. */
  #writtenAtCheck = 0;

  constructor(socket: Socket, handler: RequestHandler, limits: ClientLimits) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress;
    this.#handler = handler;
    this.#limits = limits;
    this.#keepAliveField = keepAliveField(limits.keepAliveTimeoutMs);
    this.#phaseSince = performance.now();
    this.#lastActivity = this.#phaseSince;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("drain", this.#onDrain);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
  }

  /** Tells a client that sent `Expect: 100-continue` to send its body. */
  sendContinue(): void {
    const head = this.#head;
    if (head?.expect === "100-continue" && head.minorVersion === 1 && this.#phase === "serving") {
      if (!this.socket.destroyed) this.socket.write(CONTINUE);
    }
  }

  /** Shutting down: an idle connection closes now, a busy one after its answer. */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#response?.closeAfter();
    if (this.#phase === "waiting" && this.#pendingHead.length === 0 && !this.#queued) {
      this.#close();
    }
  }

  /** Applies the deadlines at `now` (performance.now()). */
  check(now: number): void {
    const limits = this.#limits;
    switch (this.#phase) {
      case "waiting":
        if (this.#pendingHead.length > 0) {
          if (now - this.#headSince > limits.headersTimeoutMs) this.#timeOut();
        } else if (this.#served > 0) {
          // Between requests: a silent keep-alive connection just closes.
          if (now - this.#phaseSince > limits.keepAliveTimeoutMs) this.socket.destroy();
        } else if (now - this.#phaseSince > limits.headersTimeoutMs) {
          this.#timeOut();
        }
        break;
      case "serving": {
        const body = this.#body;
        if (body && !body.complete && now - this.#headSince > limits.requestTimeoutMs) {
          // The exchange fails with it and answers 408 if it still can.
          body.destroy(new ClientRequestError(408, "request body not received in time"));
        }
        break;
      }
      case "closing":
        // The last answer may still be going out to a slow reader: only the idle deadline applies.
        break;
      default:
        return;
    }
    const idle = limits.idleTimeoutMs;
    if (idle === 0) return;
    const written = this.socket.bytesWritten;
    if (written !== this.#writtenAtCheck) {
      this.#writtenAtCheck = written;
      this.#lastActivity = now;
    }
    if (now - this.#lastActivity > idle) this.socket.destroy();
  }

  responseDone(reusable: boolean): void {
    if (this.#phase !== "serving") return;
    this.#response = undefined;
    this.#served += 1;
    this.#lastActivity = performance.now();
    const body = this.#body;
    this.#body = null;
    // An unread rest of the body stands between this request and the next.
    const bodyLeft = body !== null && !body.complete;
    if (bodyLeft) body.destroy();
    if (!reusable || bodyLeft || this.#shuttingDown) {
      this.#close();
      return;
    }
    this.#enter("waiting");
    // After the current turn: the backend connection that served this
    // response is released to its pool only once its end has been handled.
    if (this.#queued !== undefined) queueMicrotask(this.#consumeQueued);
  }

  readonly #consumeQueued = (): void => this.#consume();

  readonly #onData = (chunk: Buffer): void => {
    switch (this.#phase) {
      case "waiting":
        this.#lastActivity = performance.now();
        this.#enqueue(chunk);
        this.#consume();
        return;
      case "serving":
        this.#lastActivity = performance.now();
        this.#readBody(chunk);
        return;
      default:
        // Closing: what the client still sends is read and dropped, and keeps nothing open.
        return;
    }
  };

  /** Reads heads from the queued bytes until a request is being served or the bytes run out. */
  #consume(): void {
    if (this.#consuming) return;
    this.#consuming = true;
    try {
      while (this.#phase === "waiting" && this.#queued !== undefined) {
        const input = this.#queued;
        this.#queued = undefined;
        this.#readHead(input);
      }
    } finally {
      this.#consuming = false;
    }
    // The queue is used up (into a head, or a body that may want more bytes).
    if (this.#pausedForQueue && this.#queued === undefined) {
      this.#pausedForQueue = false;
      if (!this.#pausedForBody) this.socket.resume();
    }
  }

  #readHead(chunk: Buffer): void {
    const pending = this.#pendingHead;
    let input: Buffer;
    let searchFrom = 0;
    if (pending.length > 0) {
      searchFrom = pending.length - 3;
      input = pending.append(chunk);
    } else {
      // Empty lines between requests (RFC 9112 §2.2) are dropped, not kept as
      // the start of a head: the connection stays idle, under its keep-alive deadline.
      input = withoutEmptyLines(chunk);
      if (input.length === 0) return;
      this.#headSince = performance.now();
    }
    let head: RequestHead | undefined;
    try {
      head = parseRequestHead(input, this.#limits.maxHeaderBytes, Math.max(0, searchFrom));
    } catch (error) {
      this.#refuse(error as ClientRequestError);
      return;
    }
    if (!head) {
      pending.keep(input);
      return;
    }
    pending.clear();
    this.#start(head, input.subarray(head.size));
  }

  #start(head: RequestHead, rest: Buffer): void {
    const hasBody = head.chunked || (head.contentLength ?? 0) > 0;
    if (head.method === "CONNECT") {
      this.#refuse(new ClientRequestError(501, "CONNECT is not supported"));
      return;
    }
    if (head.expect !== undefined && head.expect !== "100-continue") {
      this.#refuse(new ClientRequestError(417, "expectation not supported"));
      return;
    }
    // An upgrade with a body is served as plain HTTP, its Upgrade dropped as
    // hop-by-hop: its body and the new protocol's bytes could not be told apart.
    if (head.upgrade !== undefined && !hasBody) {
      this.#handOver(head, rest);
      return;
    }
    this.#enter("serving");
    this.#head = head;
    const keepAlive = head.keepAlive && !this.#shuttingDown;
    const response = new ClientResponse(this.socket, head, this, keepAlive, this.#keepAliveField);
    this.#response = response;
    let body: RequestBody | null = null;
    if (hasBody) {
      const framing = head.chunked ? { chunked: true as const } : { length: head.contentLength! };
      body = new RequestBody(framing, this.#bodySource, this.#limits.maxBodyBytes);
      // A body that fails before the exchange reads it keeps its error for the proxy to see.
      body.on("error", ignore);
      this.#body = body;
    }
    if (rest.length > 0) this.#readBody(rest);
    this.#handler.onRequest({ head, body, response, connection: this });
  }

  /** Bytes that come while a request is served: its body first, then the next request. */
  #readBody(chunk: Buffer): void {
    const body = this.#body;
    let rest = chunk;
    if (body && !body.complete) {
      if (body.destroyed) return; // broken or given up: nothing more is read from this connection
      const used = body.feed(chunk);
      if (used < 0) {
        this.#response?.closeAfter();
        return;
      }
      rest = used === chunk.length ? EMPTY : chunk.subarray(used);
    }
    if (rest.length > 0) this.#enqueue(rest);
  }

  #enqueue(bytes: Buffer): void {
    const queued = this.#queued;
    this.#queued = queued === undefined ? bytes : Buffer.concat([queued, bytes]);
    if (
      this.#phase === "serving" &&
      !this.#pausedForQueue &&
      this.#queued.length > this.#limits.maxHeaderBytes + PIPELINE_SLACK
    ) {
      this.#pausedForQueue = true;
      this.socket.pause();
    }
  }

  #handOver(head: RequestHead, early: Buffer): void {
    this.#enter("handed-over");
    const socket = this.socket;
    socket.off("data", this.#onData);
    socket.off("end", this.#onEnd);
    socket.off("drain", this.#onDrain);
    socket.off("error", this.#onError);
    socket.off("close", this.#onClose);
    this.#handler.onUpgrade(head, this, early);
  }

  /** Answers a request that cannot be served with its status and closes. */
  #refuse(error: ClientRequestError): void {
    this.#handler.onRefused(error);
    this.#enter("closing");
    this.#queued = undefined;
    this.#pendingHead.clear();
    writeRawResponse(this.socket, error.status, error.message);
  }

  #timeOut(): void {
    this.#refuse(new ClientRequestError(408, "request head not received in time"));
  }

  /** Ends the connection gracefully: its FIN goes after what is written. */
  #close(): void {
    if (this.#phase === "closing" || this.#phase === "closed") return;
    this.#enter("closing");
    this.#queued = undefined;
    closeLingering(this.socket);
  }

  #enter(phase: Phase): void {
    this.#phase = phase;
    this.#phaseSince = performance.now();
  }

  readonly #bodySource = {
    pause: (): void => {
      if (this.#pausedForBody) return;
      this.#pausedForBody = true;
      this.socket.pause();
    },
    resume: (): void => {
      if (!this.#pausedForBody) return;
      this.#pausedForBody = false;
      if (!this.#pausedForQueue) this.socket.resume();
    },
  };

  readonly #onEnd = (): void => {
    if (this.#phase === "serving") {
      // A client that ends its side before its answer has left, as Node's
      // server and nginx take it: the exchange is given up.
      this.socket.destroy();
    } else if (this.#phase === "waiting") {
      // A partial head that will never be completed is dropped with the connection.
      this.#close();
    } else if (this.#phase === "closing" && this.socket.writableFinished) {
      // Both sides are done; while the answer is still going out, it is let finish.
      this.socket.destroy();
    }
  };

  readonly #onDrain = (): void => {
    this.#lastActivity = performance.now();
    this.#response?.drained();
  };

  readonly #onError = (): void => {
    this.socket.destroy();
  };

  readonly #onClose = (): void => {
    const response = this.#response;
    const body = this.#body;
    this.#enter("closed");
    this.#response = undefined;
    this.#body = null;
    this.#queued = undefined;
    if (body && !body.complete) body.cut();
    response?.clientGone();
  };
}

const EMPTY = Buffer.alloc(0);

const keepAliveFields = new Map<number, string>();

/** The Keep-Alive field line for a keep-alive timeout, in whole seconds as clients read it; one string per timeout. */
function keepAliveField(timeoutMs: number): string {
  let field = keepAliveFields.get(timeoutMs);
  if (field === undefined) {
    field = `keep-alive: timeout=${Math.max(1, Math.floor(timeoutMs / 1000))}\r\n`;
    keepAliveFields.set(timeoutMs, field);
  }
  return field;
}

/** `bytes` without the CRLF pairs it starts with. */
function withoutEmptyLines(bytes: Buffer): Buffer {
  let start = 0;
  while (bytes[start] === 0x0d && bytes[start + 1] === 0x0a) start += 2;
  return start === 0 ? bytes : bytes.subarray(start);
}

function ignore(): void {}
