// One direction of a relay in the process: a data loop from a source to a
// destination with manual backpressure (pause the source while its
// destination's buffer is full), ending the destination gracefully once the
// source is done. A source opened with direct reads (withDirectReads) hands
// each read to its flow straight from the read callback, as a view of its
// read buffer; the flow copies it only when the destination would queue it.
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { DirectReads } from "./direct-reads.ts";
import type { ChunkRewriter } from "./relay.ts";

/** One direction: source to destination, until the source is done. */
export class Flow {
  readonly #source: Duplex;
  readonly #destination: Duplex;
  readonly #rewrite: ChunkRewriter | undefined;
  readonly #onFinished: () => void;
  readonly #onError: () => void;
  readonly #reads: DirectReads | undefined;
  #finished = false;

  constructor(
    source: Duplex,
    destination: Duplex,
    rewrite: ChunkRewriter | undefined,
    onFinished: () => void,
    onError: () => void,
  ) {
    this.#source = source;
    this.#destination = destination;
    this.#rewrite = rewrite;
    this.#onFinished = onFinished;
    this.#onError = onError;
    // Only a socket is done with a chunk once its write completes; another Duplex may keep it.
    this.#reads =
      source instanceof Socket && destination instanceof Socket
        ? DirectReads.of(source)
        : undefined;
    // Chunks the source's stream already holds come as 'data', before any direct read.
    source.on("data", rewrite === undefined ? this.#forward : this.#rewriteAndForward);
    this.#reads?.takeOver(rewrite === undefined ? this.#forwardRead : this.#rewriteRead);
    source.on("end", this.#finish);
    source.on("close", this.#finish);
    destination.on("drain", this.#resume);
    // Bytes for a destination that is gone are dropped, so the source can still reach its end.
    destination.on("close", this.#resume);
    if (source.readableEnded || source.destroyed) this.#finish();
    // An adapter may have paused the source while it read its part; the relay takes over.
    else if (!destination.writableNeedDrain) source.resume();
  }

  readonly #forward = (chunk: Buffer): void => {
    const destination = this.#destination;
    if (destination.destroyed || destination.writableEnded) return;
    if (!destination.write(chunk)) this.#source.pause();
  };

  /** A view of the source's read buffer, which its next read overwrites. */
  readonly #forwardRead = (bytes: Buffer): void => {
    const destination = this.#destination;
    // A destination still writing would queue the view, holding the whole read buffer: a copy is smaller.
    if (destination.writableLength > 0) {
      this.#forward(Buffer.from(bytes));
      return;
    }
    this.#forward(bytes);
    // The kernel took only part: the rest still points into the read buffer.
    if (destination.writableLength > 0) this.#reads!.keep();
  };

  /** A rewriter may hold bytes back, so it gets bytes of its own. */
  readonly #rewriteRead = (bytes: Buffer): void => {
    this.#rewriteAndForward(Buffer.from(bytes));
  };

  readonly #rewriteAndForward = (chunk: Buffer): void => {
    let bytes: Buffer;
    try {
      bytes = this.#rewrite!(chunk);
    } catch {
      this.#onError();
      return;
    }
    if (bytes.length > 0) this.#forward(bytes);
  };

  readonly #resume = (): void => {
    this.#source.resume();
  };

  /** The source will send nothing more: end the destination after what it still has to write. */
  readonly #finish = (): void => {
    if (this.#finished) return;
    this.#finished = true;
    const destination = this.#destination;
    if (!destination.destroyed && !destination.writableEnded) destination.end();
    this.#onFinished();
  };
}
