// Relays bytes both ways between a client and its backend once a protocol
// adapter has finished reading what it needed.
//
// Each direction is a data loop with manual backpressure (relay-flow.ts).
// When a source ends, its destination is ended gracefully: end() goes out
// after the pending writes, and the other direction keeps flowing
// (half-close, for sockets made with allowHalfOpen). A side that closes
// without an error ends the other one the same way. Only an error destroys
// both at once; and once one direction has finished, the other has
// `graceMs` to finish too before both are destroyed.
//
// Given a kernel splicer, a relay of two plain TCP sockets is handed to the
// kernel instead (spliced-relay.ts), with the same rules for its end; with a
// rewriter, only the backend's bytes go through the kernel, unless it is a
// MySQL command watch the kernel can share.
import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { KernelSplice, MysqlFraming } from "./kernel-splice.ts";
import { Flow } from "./relay-flow.ts";
import { splicedRelay } from "./spliced-relay.ts";

export interface RelayTotals {
  /** Bytes the backend sent towards the client. */
  readonly toClient: number;
  /** Bytes written to the backend. */
  readonly toBackend: number;
  /**
   * What moved the bytes (see kernel-splice.ts): the kernel, the process,
   * or both (one direction, or part of one, went through the process).
   */
  readonly mover: "kernel" | "process" | "mixed";
}

/**
 * Sees each chunk from the client before the backend does and returns the
 * bytes to send in its place: the chunk itself when nothing changes, an
 * empty buffer to send nothing yet. It runs in the data handler itself, so
 * bytes that pass unchanged cost no stream, copy or event-loop turn.
 */
export type ChunkRewriter = (chunk: Buffer) => Buffer;

/**
 * A rewriter of MySQL command packets that only ever changes a KILL (see
 * kill-translator.ts): the kernel can then move the client's bytes while
 * following their framing, and hand the stream back to the rewriter at the
 * first chunk that may hold one.
 */
export interface CommandWatch {
  /** Where the client's stream stands now; undefined while the rewriter holds part of a packet. */
  readonly framing: MysqlFraming | undefined;
  /** The rewriter carries on from `framing`, where the kernel stopped. */
  resumeAt(framing: MysqlFraming): void;
}

export interface RelayOptions {
  /** Rewrites bytes on their way to the backend (say, commands). A throw ends the relay like a socket error. */
  readonly rewriteToBackend?: ChunkRewriter;
  /** With rewriteToBackend: lets the kernel move the client's bytes too, watching them. */
  readonly commandWatch?: CommandWatch;
  /** After one direction has finished, how long the other may go on; default 60 s. */
  readonly graceMs?: number;
  /** Moves the bytes in the kernel where it can (see kernel-splice.ts). */
  readonly splice?: KernelSplice;
  /**
   * Bytes for the client once the relay is in place: the answer an adapter
   * held back, so that a client waiting for it has sent nothing yet when
   * the relay takes over, and the kernel can take the connection.
   */
  readonly thenToClient?: Buffer;
}

const DEFAULT_GRACE_MS = 60_000;

/** Relays `client` and `backend` into each other; resolves when both are closed. */
export function relay(
  client: Duplex,
  backend: Socket,
  options: RelayOptions = {},
): Promise<RelayTotals> {
  const { splice, thenToClient } = options;
  if (splice !== undefined && client instanceof Socket) {
    const spliced = splicedRelay(splice, client, backend, {
      graceMs: options.graceMs ?? DEFAULT_GRACE_MS,
      thenToClient,
      rewriteToBackend: options.rewriteToBackend,
      commandWatch: options.commandWatch,
    });
    if (spliced !== undefined) return spliced;
  }
  const done = new Relay(client, backend, options).done;
  if (thenToClient !== undefined && thenToClient.length > 0 && client.writable)
    client.write(thenToClient);
  return done;
}

class Relay {
  readonly done: Promise<RelayTotals>;
  readonly #client: Duplex;
  readonly #backend: Socket;
  readonly #graceMs: number;
  #resolve: ((totals: RelayTotals) => void) | undefined;
  #open = 2;
  #grace: NodeJS.Timeout | undefined;

  constructor(client: Duplex, backend: Socket, options: RelayOptions) {
    this.#client = client;
    this.#backend = backend;
    this.#graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.done = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    for (const stream of [client, backend]) {
      // on, not once: a socket may report more than one error; each must be handled.
      stream.on("error", this.#fail);
      if (stream.closed) this.#closed();
      else stream.once("close", this.#closed);
    }
    new Flow(client, backend, options.rewriteToBackend, this.#finishedOne, this.#fail);
    new Flow(backend, client, undefined, this.#finishedOne, this.#fail);
  }

  readonly #fail = (): void => {
    this.#client.destroy();
    this.#backend.destroy();
  };

  /** A direction is done: the other gets a bounded time to finish. */
  readonly #finishedOne = (): void => {
    if (this.#grace !== undefined || this.#resolve === undefined) return;
    this.#grace = setTimeout(this.#fail, this.#graceMs);
    this.#grace.unref();
  };

  readonly #closed = (): void => {
    this.#open -= 1;
    if (this.#open > 0 || this.#resolve === undefined) return;
    clearTimeout(this.#grace);
    const backend = this.#backend;
    this.#resolve({
      toClient: backend.bytesRead,
      toBackend: backend.bytesWritten,
      mover: "process",
    });
    this.#resolve = undefined;
  };
}
