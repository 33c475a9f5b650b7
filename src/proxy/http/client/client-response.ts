// The response to one client request, written straight to its socket: the
// status line and headers, then the body in the framing the client can read
// (the backend's Content-Length as declared; otherwise chunked for an
// HTTP/1.1 client, or delimited by closing the connection for HTTP/1.0).
// The head is held back (corked) until the first piece of the body or the
// end of the current turn of the event loop, so a small response leaves in
// one write.
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { httpDate } from "./date-header.ts";
import type { RequestHead } from "./request-head.ts";

const LAST_CHUNK = "0\r\n\r\n";

type Framing = "none" | "length" | "chunked" | "close";

/** What the response tells its connection when it is over. */
export interface ResponseOwner {
  /** The response is complete; `reusable` says whether the connection may carry another request. */
  responseDone(reusable: boolean): void;
}

/** Who writes the response hears from the client's side through this. */
export interface ResponseListener {
  /** The client has read what was written: writing may go on. */
  onDrain(): void;
  /** The client's connection closed. */
  onClientGone(): void;
}

export class ClientResponse {
  readonly #socket: Socket;
  readonly #request: RequestHead;
  readonly #owner: ResponseOwner;
  #framing: Framing = "none";
  #keepAlive: boolean;
  readonly #keepAliveField: string;
  #headersSent = false;
  #corked = false;
  #ended = false;
  #listener: ResponseListener | undefined;

  constructor(
    socket: Socket,
    request: RequestHead,
    owner: ResponseOwner,
    keepAlive: boolean,
    /** The `keep-alive: timeout=N` field line (with its CRLF) sent when the connection stays open. */
    keepAliveField: string,
  ) {
    this.#socket = socket;
    this.#request = request;
    this.#owner = owner;
    this.#keepAlive = keepAlive;
    this.#keepAliveField = keepAliveField;
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }

  /** The client's connection is gone: nothing written now reaches it. */
  get gone(): boolean {
    return this.#socket.destroyed;
  }

  /** Sets (or, with undefined, removes) the one listener. */
  listen(listener: ResponseListener | undefined): void {
    this.#listener = listener;
  }

  /** Called by the connection when the socket drains. */
  drained(): void {
    this.#listener?.onDrain();
  }

  /** Called by the connection when the socket closes. */
  clientGone(): void {
    this.#listener?.onClientGone();
  }

  /** Close the connection after this response. */
  closeAfter(): void {
    this.#keepAlive = false;
  }

  /**
   * Writes the status line and `headers` (flat name, value list, without
   * framing or connection fields). `contentLength` is the body's length when
   * known; without it the body is framed here.
   */
  writeHead(
    status: number,
    reason: string,
    headers: readonly string[],
    contentLength?: number,
  ): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    const request = this.#request;
    let head = `HTTP/1.1 ${status} ${reason}\r\n`;
    let date = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      if (name.length === 4 && name.toLowerCase() === "date") date = true;
      head += `${name}: ${headers[i + 1]}\r\n`;
    }
    if (!date) head += `date: ${httpDate()}\r\n`;
    // HEAD, 204 and 304 have no body whatever their fields say (RFC 9110 §6.4.1).
    const bodiless = request.method === "HEAD" || status === 204 || status === 304;
    if (contentLength !== undefined && status !== 204) {
      head += `content-length: ${contentLength}\r\n`;
    }
    if (bodiless) {
      this.#framing = "none";
    } else if (contentLength !== undefined) {
      this.#framing = contentLength === 0 ? "none" : "length";
    } else if (request.minorVersion === 1) {
      this.#framing = "chunked";
      head += "transfer-encoding: chunked\r\n";
    } else {
      this.#framing = "close";
      this.#keepAlive = false;
    }
    if (!this.#keepAlive) head += "connection: close\r\n";
    else {
      if (request.minorVersion === 0) head += "connection: keep-alive\r\n";
      // How long the connection waits for the next request, so that a client
      // does not reuse it just as the proxy closes it.
      head += this.#keepAliveField;
    }
    head += "\r\n";
    const socket = this.#socket;
    if (socket.destroyed) return;
    socket.cork();
    this.#corked = true;
    socket.write(head, "latin1");
    queueMicrotask(this.#uncork);
  }

  /** A piece of the body; false when the client is behind (wait for the connection's drain). */
  write(chunk: Buffer): boolean {
    const socket = this.#socket;
    if (socket.destroyed || this.#framing === "none") return true;
    let flushed: boolean;
    if (this.#framing === "chunked") {
      if (chunk.length === 0) return true;
      if (!this.#corked) socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`);
      socket.write(chunk);
      flushed = socket.write("\r\n");
      if (!this.#corked) socket.uncork();
    } else {
      flushed = socket.write(chunk);
    }
    this.#uncork();
    return flushed;
  }

  /** Cuts the connection: the only honest end of a response whose body cannot be completed. */
  destroy(): void {
    this.#socket.destroy();
  }

  /** The body is complete. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const socket = this.#socket;
    if (this.#framing === "chunked" && !socket.destroyed) socket.write(LAST_CHUNK);
    this.#uncork();
    this.#owner.responseDone(this.#keepAlive && this.#framing !== "close");
  }

  /** A whole proxy-made answer: a short plain-text body. */
  sendText(status: number, message: string, headers: readonly string[] = []): void {
    const body = `${message}\n`;
    this.writeHead(
      status,
      STATUS_CODES[status] ?? "",
      [...headers, "content-type", "text/plain; charset=utf-8"],
      Buffer.byteLength(body),
    );
    this.write(Buffer.from(body));
    this.end();
  }

  readonly #uncork = (): void => {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  };
}
