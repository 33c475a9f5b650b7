// The client's bytes once the kernel has left them to the process (a side
// watched for MySQL commands, kernel-splice.ts). From the first chunk that
// may hold a command to rewrite, every chunk stays in the client socket's
// own queue; the process reads them there and writes them, rewritten, to
// the backend, after every byte the kernel moved before.
//
// They are read through the addon, not Node's stream: the kernel may still
// be putting chunks in that queue when the client's end is already seen,
// and Node would stop reading at the end. So the end counts: only once all
// the bytes the kernel diverted are read is the backend ended.
import type { Socket } from "node:net";
import { kernelDrained } from "./kernel-drain.ts";
import type { Side, SplicedPair } from "./kernel-splice.ts";
import type { ChunkRewriter } from "./relay.ts";

/** Reads in one turn of the event loop, so that a fast client does not hold it. */
const READS_PER_TURN = 16;

/** While diverted bytes are still on their way after the client's end: how long to wait before reading again. */
const LATE_BYTES_WAIT_MS = 1;

export class DivertedFlow {
  readonly #pair: SplicedPair;
  readonly #side: Side;
  readonly #backend: Socket;
  readonly #rewrite: ChunkRewriter;
  readonly #onFinished: () => void;
  readonly #onError: () => void;
  /** True once every byte the kernel moved before the diversion is in the backend's send queue. */
  #caughtUp = false;
  #waitingForDrain = false;
  #read = 0;
  #finished = false;

  constructor(
    pair: SplicedPair,
    side: Side,
    backend: Socket,
    rewrite: ChunkRewriter,
    onFinished: () => void,
    onError: () => void,
  ) {
    this.#pair = pair;
    this.#side = side;
    this.#backend = backend;
    this.#rewrite = rewrite;
    this.#onFinished = onFinished;
    this.#onError = onError;
  }

  /** Takes the side over; `writtenAtSplice` is what the process had written to the backend then. */
  start(writtenAtSplice: number): void {
    const backend = this.#backend;
    try {
      this.#pair.reportReads(this.#side);
    } catch {
      this.#onError();
      return;
    }
    kernelDrained(
      () => this.#pair.drained(this.#side, backend.bytesWritten - writtenAtSplice),
      () => backend.destroyed || backend.writableEnded,
    ).then(() => {
      this.#caughtUp = true;
      this.pump();
    }, this.#onError);
  }

  /** Relays what waits in the client's queue; called again on each of the side's events. */
  readonly pump = (): void => {
    if (!this.#caughtUp || this.#waitingForDrain || this.#finished || this.#backend.destroyed) {
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
        const bytes = this.#rewrite(chunk);
        if (bytes.length > 0 && !this.#backend.write(bytes)) {
          this.#waitingForDrain = true;
          this.#backend.once("drain", () => {
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

  /** The client has sent its last byte: the backend is ended once all the diverted ones are relayed. */
  #atEnd(): void {
    const passed = this.#pair.diversion(this.#side)?.passed ?? this.#read;
    if (this.#read < passed) {
      setTimeout(this.pump, LATE_BYTES_WAIT_MS).unref();
      return;
    }
    this.#finished = true;
    const backend = this.#backend;
    if (!backend.writableEnded) backend.end();
    this.#onFinished();
  }
}
