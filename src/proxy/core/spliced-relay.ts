// The relay once the kernel moves the bytes (kernel-splice.ts). What is left
// to the process is the end of the connection, with relay()'s rules: when a
// side's peer shuts down its sending half, every byte the kernel took from
// that side must first reach the other socket's send queue; then the other
// socket is ended (half-close) and the other direction goes on, for
// `graceMs` at most. Once both directions are done, both sockets close after
// their last writes. A failure on either side, or a socket closed before its
// writes were done (from outside, say), closes both at once.
//
// With a rewriter, the client's bytes still go through the process (a Flow,
// as in relay()) and only the backend's go through the kernel; unless the
// rewriter is a MySQL command watch that can say where the stream stands:
// then the kernel moves the client's bytes too, watching for a command the
// rewriter would change, and leaves the stream to the process from there
// (a DivertedFlow). A direction the kernel refuses to take (its source was
// shut down in the meantime, and a sockmap takes only established sockets)
// goes through the process too.
import type { Socket } from "node:net";
import { DivertedFlow } from "./diverted-flow.ts";
import { kernelDrained } from "./kernel-drain.ts";
import type { KernelSplice, MysqlFraming, Side, SideEvent, SplicedPair } from "./kernel-splice.ts";
import { resumeReading, spliceable, stopReading } from "./kernel-splice.ts";
import type { ChunkRewriter, CommandWatch, RelayTotals } from "./relay.ts";
import { Flow } from "./relay-flow.ts";

const CLIENT: Side = 0;
const BACKEND: Side = 1;

export interface SplicedRelayOptions {
  readonly graceMs: number;
  /** Written to the client before the backend's bytes start to flow. */
  readonly thenToClient: Buffer | undefined;
  /** Keeps the client's bytes in the process, rewritten on their way. */
  readonly rewriteToBackend: ChunkRewriter | undefined;
  /** Lets the kernel move the client's bytes while the rewriter would leave them as they are. */
  readonly commandWatch: CommandWatch | undefined;
}

/**
 * Relays `client` and `backend` through the kernel; resolves when both are
 * closed. Undefined, with both sockets as they were and nothing written,
 * when they cannot be spliced.
 */
export function splicedRelay(
  splicer: KernelSplice,
  client: Socket,
  backend: Socket,
  options: SplicedRelayOptions,
): Promise<RelayTotals> | undefined {
  if (!spliceable(client) || !spliceable(backend)) return undefined;
  const clientInProcess = clientStaysInProcess(splicer, client, options);
  if (clientInProcess === undefined) return undefined;
  const readByKernel = clientInProcess ? [backend] : [client, backend];
  const writtenByKernel = clientInProcess ? [client] : [client, backend];
  // Bytes still in the process (read, or waiting to be written) would be overtaken by the kernel's.
  if (
    readByKernel.some((socket) => socket.readableLength > 0) ||
    writtenByKernel.some((socket) => socket.writableLength > 0)
  ) {
    return undefined;
  }
  const giveBack = () => {
    for (const socket of readByKernel) resumeReading(socket);
    return undefined;
  };
  if (!readByKernel.every(stopReading)) return giveBack();
  const relay = new SplicedRelay(client, backend, options);
  let pair: SplicedPair | undefined;
  try {
    // Bytes in a receive queue may follow bytes the process read from the same
    // kernel buffer, which the kernel would hand over whole: the process keeps them.
    if (readByKernel.some((socket) => splicer.queued(socket) > 0)) return giveBack();
    pair = splicer.splice(client, backend, relay.onEvent);
  } catch {
    // A socket the kernel refuses (closed meanwhile, say) stays with the process.
  }
  if (pair === undefined) return giveBack();
  const done = relay.start(pair, clientInProcess);
  if (!clientInProcess) relay.startInKernel(CLIENT, options.commandWatch?.framing);
  // The backend's bytes go to the client only after these, which the process writes.
  const { thenToClient } = options;
  if (thenToClient !== undefined && thenToClient.length > 0) client.write(thenToClient);
  if (client.writableLength === 0) relay.startInKernel(BACKEND);
  else client.once("drain", () => relay.startInKernel(BACKEND));
  return done;
}

/**
 * Whether the client's bytes must go through the process: with a rewriter,
 * unless it is a command watch the kernel can take over now, at a packet's
 * edge, with none of the client's bytes read or waiting yet. Undefined when
 * the client's queue cannot be read (the socket is failing).
 */
function clientStaysInProcess(
  splicer: KernelSplice,
  client: Socket,
  { rewriteToBackend, commandWatch }: SplicedRelayOptions,
): boolean | undefined {
  if (rewriteToBackend === undefined) return false;
  if (commandWatch?.framing === undefined || client.readableLength > 0) return true;
  try {
    return splicer.queued(client) > 0;
  } catch {
    return undefined;
  }
}

class SplicedRelay {
  readonly #sockets: readonly [Socket, Socket];
  readonly #graceMs: number;
  /** What the process had written to each socket when the kernel took over. */
  readonly #writtenAtSplice: readonly [number, number];
  readonly #finishing: [boolean, boolean] = [false, false];
  /** Sides whose bytes move, in the kernel or in the process. */
  readonly #started: [boolean, boolean] = [false, false];
  /** Whether the kernel and the process moved bytes: what the totals report. */
  #inKernel = false;
  #inProcess = false;
  /** Sides whose peer shut down before they started. */
  readonly #shutDown: [boolean, boolean] = [false, false];
  readonly #finished: [boolean, boolean] = [false, false];
  #pair: SplicedPair | undefined;
  /** Directions whose bytes go through the process, by source side. */
  readonly #flows: [Flow | undefined, Flow | undefined] = [undefined, undefined];
  /** The client's bytes once the kernel, watching them, left them to the process. */
  #diverted: DivertedFlow | undefined;
  readonly #rewriteToBackend: ChunkRewriter | undefined;
  readonly #commandWatch: CommandWatch | undefined;
  #grace: NodeJS.Timeout | undefined;
  #open = 2;
  #resolve: ((totals: RelayTotals) => void) | undefined;

  constructor(client: Socket, backend: Socket, options: SplicedRelayOptions) {
    this.#sockets = [client, backend];
    this.#graceMs = options.graceMs;
    this.#rewriteToBackend = options.rewriteToBackend;
    this.#commandWatch = options.commandWatch;
    this.#writtenAtSplice = [client.bytesWritten, backend.bytesWritten];
  }

  start(pair: SplicedPair, clientInProcess: boolean): Promise<RelayTotals> {
    this.#pair = pair;
    const done = new Promise<RelayTotals>((resolve) => {
      this.#resolve = resolve;
    });
    for (const socket of this.#sockets) {
      // on, not once: a socket may report more than one error; each must be handled.
      socket.on("error", this.#fail);
      socket.once("close", () => this.#closed(socket));
    }
    if (clientInProcess) this.#startInProcess(CLIENT);
    return done;
  }

  /**
   * From now on the kernel moves `side`'s bytes, watching them for MySQL
   * commands from `framing` on if given; if it refuses, the process does.
   */
  startInKernel(side: Side, framing?: MysqlFraming): void {
    if (this.#sockets[side].destroyed) return;
    try {
      if (framing !== undefined) this.#pair!.watchMysqlCommands(side, framing);
      this.#pair!.start(side);
    } catch {
      resumeReading(this.#sockets[side]);
      this.#startInProcess(side);
      return;
    }
    this.#started[side] = true;
    this.#inKernel = true;
    if (this.#shutDown[side]) this.#finishInKernel(side).catch(this.#fail);
  }

  #startInProcess(side: Side): void {
    this.#started[side] = true;
    this.#inProcess = true;
    const [client, backend] = this.#sockets;
    this.#flows[side] =
      side === CLIENT
        ? new Flow(
            client,
            backend,
            this.#rewriteToBackend,
            () => this.#directionDone(CLIENT),
            this.#fail,
          )
        : new Flow(backend, client, undefined, () => this.#directionDone(BACKEND), this.#fail);
  }

  /** From the splicer: `side`'s peer shut down, the connection failed, or bytes were diverted or arrived. */
  readonly onEvent = (side: Side, event: SideEvent): void => {
    if (event === "failure") {
      this.#fail();
      return;
    }
    try {
      if (side === CLIENT && this.#divertedEvent(event)) return;
    } catch {
      this.#fail();
      return;
    }
    if (event !== "shutdown") return;
    // A side not started yet is finished once it has (its last bytes still wait).
    if (!this.#started[side]) {
      this.#shutDown[side] = true;
      this.#startGrace();
    }
    // A side read by the process is finished by its flow, which sees the end itself.
    else if (this.#flows[side] === undefined) this.#finishInKernel(side).catch(this.#fail);
  };

  /**
   * Whether the client's bytes are the process's now, the kernel having left
   * them to it. A diversion is seen before the client's end, even where the
   * end is reported first (a segment with data and FIN wakes epoll before
   * the program runs on its data): diversion() takes the socket's lock,
   * which waits out the program.
   */
  #divertedEvent(event: SideEvent): boolean {
    if (this.#commandWatch === undefined || !this.#started[CLIENT] || this.#flows[CLIENT]) {
      return false;
    }
    if (this.#diverted === undefined) {
      const diversion = this.#pair?.diversion(CLIENT);
      if (diversion === undefined) return false;
      this.#takeBack(diversion.framing);
    }
    if (event === "shutdown") this.#startGrace();
    this.#diverted!.pump();
    return true;
  }

  /** The kernel left the client's bytes to the process: relay them from where it stopped. */
  #takeBack(framing: MysqlFraming): void {
    const pair = this.#pair!;
    this.#commandWatch!.resumeAt(framing);
    this.#inProcess = true;
    this.#diverted = new DivertedFlow(
      pair,
      CLIENT,
      this.#sockets[BACKEND],
      this.#rewriteToBackend!,
      () => this.#directionDone(CLIENT),
      this.#fail,
    );
    this.#diverted.start(this.#writtenAtSplice[BACKEND]);
  }

  /** No more bytes come from `side`: end the other socket once the kernel has handed over the last. */
  async #finishInKernel(side: Side): Promise<void> {
    if (this.#finishing[side] || this.#pair === undefined) return;
    this.#finishing[side] = true;
    const otherSide: Side = side === CLIENT ? BACKEND : CLIENT;
    const other = this.#sockets[otherSide];
    const writtenAtSplice = this.#writtenAtSplice[otherSide];
    const pair = this.#pair;
    this.#startGrace();
    // An other side that is gone, or that ended by itself, can take nothing more.
    const open = () => !other.destroyed && !other.writableEnded;
    await kernelDrained(
      () => pair.drained(side, other.bytesWritten - writtenAtSplice),
      () => !open(),
    );
    if (open()) other.end();
    this.#directionDone(side);
  }

  /** The direction from `side` is done; once both are, both sockets close after their last writes. */
  #directionDone(side: Side): void {
    this.#finished[side] = true;
    if (!this.#finished[CLIENT] || !this.#finished[BACKEND]) {
      this.#startGrace();
      return;
    }
    // The process reads neither to its end, so Node would not close them by itself.
    for (const socket of this.#sockets) {
      if (!socket.writableEnded) socket.end();
      if (socket.writableFinished) socket.destroy();
      else socket.once("finish", () => socket.destroy());
    }
  }

  #startGrace(): void {
    if (this.#grace !== undefined) return;
    this.#grace = setTimeout(this.#fail, this.#graceMs);
    this.#grace.unref();
  }

  /** An error, the grace period over, or a socket cut off: both close at once. */
  readonly #fail = (): void => {
    this.#pair?.release();
    for (const socket of this.#sockets) socket.destroy();
  };

  #closed(socket: Socket): void {
    // Closed before its writes were out, or before its own direction was
    // done (from outside, say): the other goes too. One that closed with
    // both done leaves the other to finish, within the grace period.
    const side = socket === this.#sockets[CLIENT] ? CLIENT : BACKEND;
    if (!socket.writableFinished || !this.#finished[side]) this.#fail();
    else this.#startGrace();
    this.#open -= 1;
    if (this.#open > 0 || this.#resolve === undefined) return;
    clearTimeout(this.#grace);
    this.#pair!.release();
    const backend = this.#sockets[BACKEND];
    const sent = this.#pair!.sent;
    this.#resolve({
      toClient: backend.bytesRead + sent[BACKEND],
      toBackend: backend.bytesWritten + sent[CLIENT],
      mover: this.#inKernel ? (this.#inProcess ? "mixed" : "kernel") : "process",
    });
    this.#resolve = undefined;
  }
}
