// Kernel splicing: once a protocol adapter is done with a connection, its
// two plain TCP sockets can be handed to the Linux kernel, which from then on
// moves every byte from one to the other itself (a BPF sockmap verdict
// program, in the optional `nexus-kernel-splice` addon). The process is no
// longer woken for the bytes; it only hears that a side was shut down by its
// peer or failed.
//
// It needs Linux, the addon (built by `npm install` where a C compiler is
// present) and the right to load BPF programs (root, or CAP_BPF with
// CAP_NET_ADMIN). Where anything is missing, `KernelSplice.shared()` is
// undefined, `KernelSplice.unavailableReason` says why, and relays stay in
// the process.
import { createRequire } from "node:module";
import type { Socket } from "node:net";

/** The addon's functions (native/kernel-splice/src/kernel_splice.c). */
interface Addon {
  open(capacity: number, onHangup: (token: number, side: Side, events: number) => void): void;
  /** Bytes waiting in the socket's receive queue. */
  queued(fd: number): number;
  /** Pairs A and B, moving nothing yet: a token, or -1 when the pair table is full. */
  splice(fdA: number, fdB: number): number;
  /** From now on the kernel moves the side's bytes to the other. */
  start(token: number, side: Side): void;
  /** Whether the watcher keeps the event loop alive, as open sockets do. */
  keepAlive(keep: boolean): void;
  /** Bytes since the splice: [sent by A, sent by B, taken to send by A, by B]; -1 for a closed socket. */
  counters(token: number): [number, number, number, number];
  release(token: number): void;
}

export type Side = 0 | 1;

/** How a side ended: its peer shut down its sending half, or the connection failed. */
export type Hangup = "shutdown" | "failure";

/** The parts of Node's socket handle a splice needs; internal to Node, so checked before use. */
interface StreamHandle {
  fd?: number;
  reading?: boolean;
  readStart?(): number;
  readStop?(): number;
}

const EPOLLERR = 0x008;

/** Pairs one process can splice at once; beyond that, relays stay in the process. */
const CAPACITY = 16_384;

function handleOf(socket: Socket): StreamHandle | undefined {
  return (socket as unknown as { _handle?: StreamHandle })._handle ?? undefined;
}

/**
 * Stops reading `socket` now, not at its stream's high-water mark, so that
 * no byte is in the process when the kernel takes over.
 */
export function stopReading(socket: Socket): boolean {
  const handle = handleOf(socket);
  if (typeof handle?.readStop !== "function" || typeof handle.readStart !== "function") {
    return false;
  }
  socket.pause();
  if (handle.reading !== false) {
    handle.reading = false;
    handle.readStop();
  }
  return true;
}

/**
 * Undoes stopReading(). The handle is restarted directly: its stream may be
 * waiting for a read it asked for before the stop, and would not ask again.
 */
export function resumeReading(socket: Socket): void {
  const handle = handleOf(socket);
  if (handle?.reading === false && !socket.destroyed) {
    handle.reading = true;
    handle.readStart?.();
  }
  socket.resume();
}

/** A TCP socket the kernel can splice: connected, unencrypted, with a descriptor. */
export function spliceable(socket: Socket): boolean {
  const fd = handleOf(socket)?.fd;
  return (
    typeof fd === "number" &&
    fd >= 0 &&
    (socket as { encrypted?: boolean }).encrypted !== true &&
    typeof socket.remotePort === "number" &&
    !socket.destroyed &&
    socket.writable
  );
}

/** Two sockets whose bytes the kernel moves into each other. */
export class SplicedPair {
  readonly #splicer: KernelSplice;
  readonly #token: number;
  #released = false;
  #sent: [number, number] = [0, 0];

  constructor(splicer: KernelSplice, token: number) {
    this.#splicer = splicer;
    this.#token = token;
  }

  /** From now on the kernel moves the bytes `side` receives to the other socket. */
  start(side: Side): void {
    if (!this.#released) this.#splicer.start(this.#token, side);
  }

  /** Bytes the kernel moved from each side to the other so far. */
  get sent(): readonly [number, number] {
    if (!this.#released) this.#read();
    return this.#sent;
  }

  /**
   * True once every byte the kernel took from `side` is in the other
   * socket's send queue, next to `writtenSince` bytes the process wrote
   * there itself since the splice.
   */
  drained(side: Side, writtenSince: number): boolean {
    if (this.#released) return true;
    const [sentA, sentB, takenA, takenB] = this.#read();
    const [sent, taken] = side === 0 ? [sentA, takenB] : [sentB, takenA];
    return taken >= 0 && taken === sent + writtenSince;
  }

  /** The kernel lets go of both sockets; bytes it still holds for them are dropped. */
  release(): void {
    if (this.#released) return;
    try {
      this.#read();
    } catch {
      // The last counts are lost; the pair is let go all the same.
    }
    this.#released = true;
    this.#splicer.release(this.#token);
  }

  #read(): [number, number, number, number] {
    const counters = this.#splicer.counters(this.#token);
    this.#sent = [counters[0], counters[1]];
    return counters;
  }
}

export class KernelSplice {
  static #shared: KernelSplice | undefined;
  static #reason: string | undefined;

  readonly #addon: Addon;
  readonly #hangups = new Map<number, (side: Side, hangup: Hangup) => void>();

  /** The process's splicer, opened on first use; undefined where splicing is unavailable. */
  static shared(): KernelSplice | undefined {
    if (KernelSplice.#shared === undefined && KernelSplice.#reason === undefined) {
      try {
        KernelSplice.#shared = KernelSplice.#open();
      } catch (error) {
        KernelSplice.#reason = (error as Error).message;
      }
    }
    return KernelSplice.#shared;
  }

  /** Pairs handed to the kernel and not yet released, over the process (0 before any). */
  static get openPairs(): number {
    const shared = KernelSplice.#shared;
    return shared === undefined ? 0 : shared.#hangups.size;
  }

  /** Why shared() is undefined, once it was asked. */
  static get unavailableReason(): string | undefined {
    return KernelSplice.#reason;
  }

  static #open(): KernelSplice {
    if (process.env.NEXUS_KERNEL_SPLICE === "off")
      throw new Error("turned off by NEXUS_KERNEL_SPLICE=off");
    if (process.platform !== "linux") throw new Error("kernel splicing needs Linux");
    let addon: Addon;
    try {
      addon = createRequire(import.meta.url)("nexus-kernel-splice") as Addon;
    } catch (error) {
      throw new Error(`the nexus-kernel-splice addon is not built: ${(error as Error).message}`);
    }
    return new KernelSplice(addon);
  }

  private constructor(addon: Addon) {
    this.#addon = addon;
    addon.open(CAPACITY, (token, side, events) => {
      this.#hangups.get(token)?.(side, events & EPOLLERR ? "failure" : "shutdown");
    });
  }

  /** Bytes waiting in the kernel's receive queue of a spliceable socket. */
  queued(socket: Socket): number {
    return this.#addon.queued(handleOf(socket)!.fd!);
  }

  /**
   * Pairs two spliceable sockets (side 0 and side 1). The kernel moves
   * nothing until the pair's start(side) says so, per side: the process
   * may first write what must come before. A side must not be read by the
   * process when it starts (stopReading), and each socket the kernel writes
   * to must have nothing left to write from the process. `onHangup` hears
   * of each side's shutdown or failure. Undefined when the pair table is
   * full.
   */
  splice(
    a: Socket,
    b: Socket,
    onHangup: (side: Side, hangup: Hangup) => void,
  ): SplicedPair | undefined {
    const token = this.#addon.splice(handleOf(a)!.fd!, handleOf(b)!.fd!);
    if (token < 0) return undefined;
    this.#hangups.set(token, onHangup);
    // The process reads neither socket now: the pair must keep it alive itself.
    if (this.#hangups.size === 1) this.#addon.keepAlive(true);
    return new SplicedPair(this, token);
  }

  /** @internal */
  start(token: number, side: Side): void {
    this.#addon.start(token, side);
  }

  /** @internal */
  counters(token: number): [number, number, number, number] {
    return this.#addon.counters(token);
  }

  /** @internal */
  release(token: number): void {
    if (this.#hangups.delete(token) && this.#hangups.size === 0) this.#addon.keepAlive(false);
    this.#addon.release(token);
  }
}
