// A request body as it arrives on the client connection, as a stream for the
// backend exchange: the connection feeds it the bytes after the head, it
// takes what its framing (Content-Length or chunked) says is the body and
// hands the rest back (the next pipelined request). It fails with a
// ClientRequestError on malformed chunked framing, and past the body limit
// with BodyTooLargeError. When its reader falls behind, it asks the
// connection to pause the socket, and to resume once the reader wants more.
import { Readable } from "node:stream";
import { ChunkedDecoder } from "../chunked-decoder.ts";
import { BodyTooLargeError } from "../error-status.ts";
import { ClientRequestError } from "./request-error.ts";

export interface BodySource {
  /** Stop reading the socket: the body's reader is behind. */
  pause(): void;
  /** Read the socket again. */
  resume(): void;
}

export class RequestBody extends Readable {
  readonly #source: BodySource;
  readonly #limit: number;
  readonly #decoder: ChunkedDecoder | undefined;
  /** Bytes still to come, for a body with a Content-Length. */
  #remaining: number;
  #received = 0;
  #complete = false;

  constructor(
    framing: { readonly length: number } | { readonly chunked: true },
    source: BodySource,
    /** Largest body taken; more fails the stream. */
    limit = Number.POSITIVE_INFINITY,
  ) {
    super();
    this.#source = source;
    this.#limit = limit;
    if ("length" in framing) {
      this.#remaining = framing.length;
    } else {
      this.#remaining = 0;
      this.#decoder = new ChunkedDecoder((message) => new ClientRequestError(400, message));
    }
  }

  /** The whole body has arrived. */
  get complete(): boolean {
    return this.#complete;
  }

  /**
   * Takes the body's part of `bytes`; returns how many bytes that was (the
   * rest belongs to what follows the request), or -1 when the body is broken
   * (the stream is failed and the connection must not be read further).
   */
  feed(bytes: Buffer): number {
    if (this.#complete) return 0;
    if (this.#decoder) {
      try {
        const used = this.#decoder.push(bytes, this.#take);
        if (this.#decoder.done) this.#finish();
        return this.destroyed ? -1 : used;
      } catch (error) {
        this.destroy(error as Error);
        return -1;
      }
    }
    const used = Math.min(this.#remaining, bytes.length);
    this.#remaining -= used;
    this.#take(used === bytes.length ? bytes : bytes.subarray(0, used));
    if (this.#remaining === 0) this.#finish();
    return this.destroyed ? -1 : used;
  }

  /** The client left before the body was complete. */
  cut(): void {
    if (!this.#complete) this.destroy(new ClientRequestError(400, "request body cut short"));
  }

  override _read(): void {
    this.#source.resume();
  }

  readonly #take = (data: Buffer): void => {
    if (data.length === 0 || this.destroyed) return;
    this.#received += data.length;
    if (this.#received > this.#limit) {
      this.destroy(new BodyTooLargeError(this.#limit));
      return;
    }
    if (!this.push(data)) this.#source.pause();
  };

  #finish(): void {
    if (this.#complete || this.destroyed) return;
    this.#complete = true;
    this.push(null);
    // An ended stream never calls _read again, so a source paused for this
    // body would stay paused, and the connection's next request unread.
    this.#source.resume();
  }
}
