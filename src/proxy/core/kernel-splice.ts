// Kernel splicing: once a protocol adapter is done with a connection, its
// two plain TCP sockets can be handed to the Linux kernel, which from then on
// moves every byte from one to the other itself (a BPF sockmap verdict
// program, in the optional `nexus-kernel-splice` addon). The process is no
// longer woken for the bytes; it only hears that a side was shut down by its
// peer or failed, or that a watched side was diverted to the process.
//
// It needs Linux, the addon (built by `npm install` where a C compiler is
// present) and the right to load BPF programs (root, or CAP_BPF with
// CAP_NET_ADMIN). Where anything is missing, `KernelSplice.shared()` is
// undefined, `KernelSplice.unavailableReason` says why, and relays stay in
// the process.
//
// A side can carry MySQL commands instead (watchMysqlCommands): the kernel
// then follows the packet framing and moves every chunk that cannot hold a
// KILL, and leaves the first chunk that may (and all after it) to the
// process, which reads them with readDiverted().
import { createRequire } from "node:module";
import type { Socket } from "node:net";

/** The addon's functions (native/kernel-splice/src/kernel_splice.c). */
interface Addon {
  open(capacity: number, onEvent: (token: number, side: Side, events: number) => void): void;
  /** Bytes waiting in the socket's receive queue. */
  queued(fd: number): number;
  /** Pairs A and B, moving nothing yet: a token, or -1 when the pair table is full. */
  splice(fdA: number, fdB: number): number;
  /** From now on the kernel moves the side's bytes to the other. */
  start(token: number, side: Side): void;
  /** Before start: the side carries MySQL commands, its framing standing there. */
  watch(token: number, side: Side, remaining: number, previousHeader: number): void;
  /** Null, or where the framing stood at the first diverted chunk and the bytes diverted since. */
  diversion(token: number, side: Side): [number, number, number] | null;
  /** The side's arrivals are reported too ("readable"). */
  reportReads(token: number, side: Side): void;
  /** Diverted bytes: a chunk, true at the end of the stream, false when none wait. */
  readDiverted(token: number, side: Side): Buffer | boolean;
  /** Whether the watcher keeps the event loop alive, as open sockets do. */
  keepAlive(keep: boolean): void;
  /** Bytes since the splice: [sent by A, sent by B, taken to send by A, by B]; -1 for a closed socket. */
  counters(token: number): [number, number, number, number];
  release(token: number): void;
}

export type Side = 0 | 1;

/**
 * What the kernel reports of a side: its peer shut down its sending half,
 * the connection failed, a chunk was diverted to the process, or (once
 * asked for) bytes arrived.
 */
export type SideEvent = "shutdown" | "failure" | "diverted" | "readable";

/**
 * Where a MySQL client's stream stands between chunks: bytes of the current
 * packet still to come, and the previous packet's header (its length, with
 * its sequence id in the top byte).
 */
export interface MysqlFraming {
  readonly remaining: number;
  readonly previousHeader: number;
}

/** The parts of Node's socket handle a splice needs; internal to Node, so checked before use. */
interface StreamHandle {
  fd?: number;
  reading?: boolean;
  readStart?(): number;
  readStop?(): number;
}

const EPOLLERR = 0x008;
const EPOLLRDHUP = 0x2000;
/** The addon's mark for a diversion (an input-only epoll flag, EPOLLONESHOT). */
const DIVERTED_EVENT = 0x40000000;

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
    if (!this.#released) this.#splicer.addon.start(this.#token, side);
  }

  /** Before start(side): `side` carries MySQL commands, standing at `framing`. */
  watchMysqlCommands(side: Side, framing: MysqlFraming): void {
    if (!this.#released)
      this.#splicer.addon.watch(this.#token, side, framing.remaining, framing.previousHeader);
  }

  /**
   * Undefined until the kernel left a chunk of `side` to the process; then
   * where the framing stood at that chunk, and how many bytes it left so far.
   */
  diversion(side: Side): { framing: MysqlFraming; passed: number } | undefined {
    if (this.#released) return undefined;
    const diversion = this.#splicer.addon.diversion(this.#token, side);
    if (diversion === null) return undefined;
    const [remaining, previousHeader, passed] = diversion;
    return { framing: { remaining, previousHeader }, passed };
  }

  /** From now on each arrival on `side` is reported ("readable"). */
  reportReads(side: Side): void {
    if (!this.#released) this.#splicer.addon.reportReads(this.#token, side);
  }

  /** A chunk the kernel left to the process; true at the end of the stream, false when none waits. */
  readDiverted(side: Side): Buffer | boolean {
    return this.#released ? true : this.#splicer.addon.readDiverted(this.#token, side);
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
    const counters = this.#splicer.addon.counters(this.#token);
    this.#sent = [counters[0], counters[1]];
    return counters;
  }
}

export class KernelSplice {
  static #shared: KernelSplice | undefined;
  static #reason: string | undefined;

  /** @internal */
  readonly addon: Addon;
  readonly #listeners = new Map<number, (side: Side, event: SideEvent) => void>();

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
    return shared === undefined ? 0 : shared.#listeners.size;
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
    this.addon = addon;
    addon.open(CAPACITY, (token, side, events) => {
      this.#listeners.get(token)?.(side, sideEvent(events));
    });
  }

  /** Bytes waiting in the kernel's receive queue of a spliceable socket. */
  queued(socket: Socket): number {
    return this.addon.queued(handleOf(socket)!.fd!);
  }

  /**
   * Pairs two spliceable sockets (side 0 and side 1). The kernel moves
   * nothing until the pair's start(side) says so, per side: the process
   * may first write what must come before. A side must not be read by the
   * process when it starts (stopReading), and each socket the kernel writes
   * to must have nothing left to write from the process. `onEvent` hears of
   * each side's shutdown, failure and diversion. Undefined when the pair
   * table is full.
   */
  splice(
    a: Socket,
    b: Socket,
    onEvent: (side: Side, event: SideEvent) => void,
  ): SplicedPair | undefined {
    const token = this.addon.splice(handleOf(a)!.fd!, handleOf(b)!.fd!);
    if (token < 0) return undefined;
    this.#listeners.set(token, onEvent);
    // The process reads neither socket now: the pair must keep it alive itself.
    if (this.#listeners.size === 1) this.addon.keepAlive(true);
    return new SplicedPair(this, token);
  }

  /** @internal */
  release(token: number): void {
    if (this.#listeners.delete(token) && this.#listeners.size === 0) this.addon.keepAlive(false);
    this.addon.release(token);
  }
}

function sideEvent(events: number): SideEvent {
  if (events & EPOLLERR) return "failure";
  if (events & DIVERTED_EVENT) return "diverted";
  return events & EPOLLRDHUP ? "shutdown" : "readable";
}
