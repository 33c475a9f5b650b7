// A request body without a Content-Length (chunked) cannot be refused up
// front; it is counted as it streams to the backend and cut off at the limit.
import type { IncomingMessage } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { BodyTooLargeError } from "./error-status.ts";

class BodyCounter extends Transform {
  readonly #limit: number;
  #seen = 0;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.#limit) callback(new BodyTooLargeError(this.#limit));
    else callback(null, chunk);
  }
}

/** `req` as a stream that fails with BodyTooLargeError past `limit` bytes. */
export function limitBody(req: IncomingMessage, limit: number): Transform {
  const counter = new BodyCounter(limit);
  req.once("error", (error) => counter.destroy(error));
  return req.pipe(counter);
}
