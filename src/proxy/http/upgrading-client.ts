// The client side of an upgrade until the backend accepts it (101). The
// client is read all along, so a client that leaves is noticed at once: its
// signal aborts, and a cold-start wait, a backend dial or the offer to the
// backend gives up and frees its place. What it sends meanwhile is kept for
// the backend, up to a bound: a WebSocket or h2c client sends nothing before
// the 101, so more than that is not a client worth waiting for.
import type { Duplex } from "node:stream";

/** Bytes a client may send before its upgrade is accepted. */
const MAX_EARLY_BYTES = 64 * 1024;

export class UpgradingClient {
  readonly socket: Duplex;
  readonly #left = new AbortController();
  readonly #early: Buffer[] = [];
  #earlyBytes = 0;

  /** `head` holds the bytes that came after the request head. */
  constructor(socket: Duplex, head: Buffer) {
    this.socket = socket;
    this.#keep(head);
    socket.on("data", this.#keep);
    socket.once("end", this.#leave);
    socket.once("close", this.#leave);
  }

  /** Aborted when the client ends, closes or breaks before the hand-over. */
  get signal(): AbortSignal {
    return this.#left.signal;
  }

  /** Stops reading the client and returns what it sent so far, for the backend. */
  handOver(): Buffer {
    const socket = this.socket;
    socket.off("data", this.#keep);
    socket.off("end", this.#leave);
    socket.off("close", this.#leave);
    socket.pause();
    return Buffer.concat(this.#early);
  }

  readonly #keep = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    this.#earlyBytes += chunk.length;
    if (this.#earlyBytes > MAX_EARLY_BYTES) this.socket.destroy();
    else this.#early.push(chunk);
  };

  readonly #leave = (): void => {
    this.#left.abort(new Error("the client went away"));
  };
}
