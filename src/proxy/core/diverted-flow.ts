// A direction once the kernel has left its bytes to the process
// (kernel-splice.ts): a side watched for MySQL commands, from the first
// chunk that may hold one to rewrite, or a side whose reader fell far
// behind. From that chunk on every chunk stays with the source socket; the
// process reads them there and writes them, rewritten if need be, to the
// other socket, after every byte the kernel moved before.
//
// They are read through the addon, not Node's stream: the kernel may still
// be putting chunks in that queue when the source's end is already seen,
// and Node would stop reading at the end. So the end counts: only once all
// the bytes the kernel diverted are read is the destination ended. While
// the destination is full the process stops reading, and the bytes it has
// not read hold the sender back through TCP flow control.
import type { Socket } from "node:net";
import { kernelDrained } from "./kernel-drain.ts";
import type { Side, SplicedPair } from "./kernel-splice.ts";
import type { ChunkRewriter } from "./relay.ts";

/** Reads in one turn of the event loop, so that a fast source does not hold it. */
const READS_PER_TURN = 16;

/** While diverted bytes are still on their way after the source's end: how long to wait before reading again. */
const LATE_BYTES_WAIT_MS = 1;

export class DivertedFlow {
  readonly #pair: SplicedPair;
  readonly #side: Side;
  readonly #destination: Socket;
  readonly #rewrite: ChunkRewriter | undefined;
  readonly #onFinished: () => void;
  readonly #onError: () => void;
  /** True once every byte the kernel moved before the diversion is in the destination's send queue. */
  #caughtUp = false;
  #waitingForDrain = false;
  #read = 0;
  #finished = false;

  constructor(
    pair: SplicedPair,
    side: Side,
    destination: Socket,
    rewrite: ChunkRewriter | undefined,
    onFinished: () => void,
    onError: () => void,
  ) {
    this.#pair = pair;
    this.#side = side;
    this.#destination = destination;
    this.#rewrite = rewrite;
    this.#onFinished = onFinished;
    this.#onError = onError;
  }

  /** Takes the side over; `writtenAtSplice` is what the process had written to the destination then. */
  start(writtenAtSplice: number): void {
    const destination = this.#destination;
    try {
      this.#pair.reportReads(this.#side);
    } catch {
      this.#onError();
      return;
    }
    kernelDrained(
      () => this.#pair.drained(this.#side, destination.bytesWritten - writtenAtSplice),
      () => destination.destroyed || destination.writableEnded,
    ).then(() => {
      this.#caughtUp = true;
      this.pump();
    }, this.#onError);
  }

  /** Relays what waits for the process; called again on each of the side's events. */
  readonly pump = (): void => {
    if (!this.#caughtUp || this.#waitingForDrain || this.#finished || this.#destination.destroyed) {
      return;
    }
    try {
      for (let reads = 0; ; reads++) {
        if (reads === READS_PER_TURN) {
          setImmediate(this.pump);
          return;
        }
        const chunk = this.#pair.readDiverted(this.#side);
        if (chunk === false) return;
        if (chunk === true) {
          this.#atEnd();
          return;
        }
        this.#read += chunk.length;
        const bytes = this.#rewrite === undefined ? chunk : this.#rewrite(chunk);
        if (bytes.length > 0 && !this.#destination.write(bytes)) {
          this.#waitingForDrain = true;
          this.#destination.once("drain", () => {
            this.#waitingForDrain = false;
            this.pump();
          });
          return;
        }
      }
    } catch {
      this.#onError();
    }
  };

  /** The source has sent its last byte: the destination is ended once all the diverted ones are relayed. */
  #atEnd(): void {
    const passed = this.#pair.diversion(this.#side)?.passed ?? this.#read;
    if (this.#read < passed) {
      setTimeout(this.pump, LATE_BYTES_WAIT_MS).unref();
      return;
    }
    this.#finished = true;
    const destination = this.#destination;
    if (!destination.writableEnded) destination.end();
    this.#onFinished();
  }
}
