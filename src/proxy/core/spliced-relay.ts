// The relay once the kernel moves the bytes (kernel-splice.ts). What is left
// to the process is the end of the connection, with relay()'s rules: when a
// side's peer shuts down its sending half, every byte the kernel took from
// that side must first reach the other socket's send queue; then the other
// socket is ended (half-close) and the other direction goes on, for
// `graceMs` at most. Once both directions are done, both sockets close. A
// failure on either side, or a socket closed from outside, closes both.
import type { Socket } from "node:net";
import type { KernelSplice, Side, SplicedPair } from "./kernel-splice.ts";
import { resumeReading, spliceable, stopReading } from "./kernel-splice.ts";
import type { RelayTotals } from "./relay.ts";

/** How often a finished direction checks whether the kernel has handed over its last bytes. */
const DRAIN_POLL_MS = 1;

/**
 * Relays `client` and `backend` in the kernel, after writing `thenToClient`
 * to the client; resolves when both are closed. Undefined, with both sockets
 * as they were and nothing written, when they cannot be spliced.
 */
export function splicedRelay(
  splicer: KernelSplice,
  client: Socket,
  backend: Socket,
  graceMs: number,
  thenToClient: Buffer | undefined,
): Promise<RelayTotals> | undefined {
  const sockets = [client, backend] as const;
  // Bytes still in the process (read, or queued for writing) would be overtaken by the kernel's.
  if (!sockets.every((s) => spliceable(s) && s.readableLength === 0 && s.writableLength === 0)) {
    return undefined;
  }
  if (!sockets.every(stopReading)) {
    for (const socket of sockets) resumeReading(socket);
    return undefined;
  }
  const relay = new SplicedRelay(client, backend, graceMs);
  const pair = splicer.splice(client, backend, relay.hangup);
  if (pair === undefined) {
    for (const socket of sockets) resumeReading(socket);
    return undefined;
  }
  const done = relay.start(pair);
  // The backend's bytes go to the client only after these, which the process writes.
  if (thenToClient !== undefined && thenToClient.length > 0) client.write(thenToClient);
  if (client.writableLength === 0) pair.spliceBack();
  else client.once("drain", () => pair.spliceBack());
  return done;
}

class SplicedRelay {
  readonly #sockets: readonly [Socket, Socket];
  readonly #graceMs: number;
  /** What the process had written to each socket when the kernel took over. */
  readonly #writtenAtSplice: readonly [number, number];
  readonly #finishing: [boolean, boolean] = [false, false];
  readonly #finished: [boolean, boolean] = [false, false];
  #pair: SplicedPair | undefined;
  #grace: NodeJS.Timeout | undefined;
  #open = 2;
  #resolve: ((totals: RelayTotals) => void) | undefined;

  constructor(client: Socket, backend: Socket, graceMs: number) {
    this.#sockets = [client, backend];
    this.#graceMs = graceMs;
    this.#writtenAtSplice = [client.bytesWritten, backend.bytesWritten];
  }

  start(pair: SplicedPair): Promise<RelayTotals> {
    this.#pair = pair;
    const done = new Promise<RelayTotals>((resolve) => {
      this.#resolve = resolve;
    });
    for (const socket of this.#sockets) {
      // on, not once: a socket may report more than one error; each must be handled.
      socket.on("error", this.#fail);
      socket.once("close", this.#closed);
    }
    return done;
  }

  /** From the splicer: `side`'s peer shut down, or the connection failed. */
  readonly hangup = (side: Side, hangup: "shutdown" | "failure"): void => {
    if (hangup === "failure") this.#fail();
    else void this.#finish(side);
  };

  /** No more bytes come from `side`: end the other socket once the kernel has handed over the last. */
  async #finish(side: Side): Promise<void> {
    if (this.#finishing[side] || this.#pair === undefined) return;
    this.#finishing[side] = true;
    if (this.#grace === undefined) {
      this.#grace = setTimeout(this.#fail, this.#graceMs);
      this.#grace.unref();
    }
    const otherSide: Side = side === 0 ? 1 : 0;
    const other = this.#sockets[otherSide];
    const writtenAtSplice = this.#writtenAtSplice[otherSide];
    const pair = this.#pair;
    while (!other.destroyed && !pair.drained(side, other.bytesWritten - writtenAtSplice)) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
    if (other.destroyed) return;
    this.#finished[side] = true;
    if (this.#finished[0] && this.#finished[1]) this.#closeBoth();
    else other.end();
  }

  readonly #fail = (): void => {
    this.#closeBoth();
  };

  #closeBoth(): void {
    clearTimeout(this.#grace);
    this.#pair?.release();
    for (const socket of this.#sockets) socket.destroy();
  }

  readonly #closed = (): void => {
    // Closed from outside (say, the proxy shutting down): the other goes too.
    this.#closeBoth();
    this.#open -= 1;
    if (this.#open > 0 || this.#resolve === undefined) return;
    const backend = this.#sockets[1];
    const sent = this.#pair!.sent;
    this.#resolve({
      toClient: backend.bytesRead + sent[1],
      toBackend: backend.bytesWritten + sent[0],
      inKernel: true,
    });
    this.#resolve = undefined;
  };
}
