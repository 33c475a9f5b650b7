// Reads whole packets from a socket while the proxy still inspects traffic
// (the handshake). `release()` stops reading and hands back the bytes that
// arrived after the last packet read, so that a raw relay can take over
// without losing any. Between reads the socket is paused, so a peer that
// sends while the proxy is busy elsewhere (routing, waking a backend) is held
// back by TCP instead of filling memory.
import { once } from "node:events";
import type { Duplex } from "node:stream";
import { MalformedPacketError } from "./malformed-packet-error.ts";
import { encodePacket, HEADER_SIZE, type Packet } from "./packet.ts";

/** The peer closed (or failed) before a whole packet arrived. */
export class ChannelClosedError extends Error {
  constructor(cause?: unknown) {
    super("the connection closed", cause === undefined ? undefined : { cause });
    this.name = "ChannelClosedError";
  }
}

export class PacketChannel {
  readonly socket: Duplex;
  readonly #maxPayload: number;
  /** Bytes received and not yet read, in arrival order; joined only to cut a packet. */
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  #waiter: { resolve(packet: Packet | undefined): void; reject(error: Error): void } | undefined;
  #failure: Error | undefined;
  #released = false;

  /** Packets whose payload exceeds `maxPayload` fail as malformed. */
  constructor(socket: Duplex, maxPayload: number) {
    this.socket = socket;
    this.#maxPayload = maxPayload;
    socket.on("data", this.#onData);
    socket.on("error", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("end", this.#onEnd);
  }

  /** The next packet, or undefined once released. */
  read(): Promise<Packet | undefined> {
    if (this.#released) return Promise.resolve(undefined);
    if (this.#waiter) return Promise.reject(new Error("one read at a time"));
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#deliver();
      if (this.#waiter) this.socket.resume();
    });
  }

  /** Writes a packet; false when the socket's buffer is full (see `drained`). */
  write(sequence: number, payload: Buffer): boolean {
    return this.socket.write(encodePacket(sequence, payload));
  }

  /** Resolves once the socket takes writes again, or has closed. */
  async drained(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.socket.destroyed) return;
    const stop = new AbortController();
    await Promise.race([
      once(this.socket, "drain", { signal: stop.signal }),
      once(this.socket, "close", { signal: stop.signal }),
    ]).catch(() => {});
    stop.abort();
  }

  /**
   * Stops reading: the socket is paused, a pending read resolves to
   * undefined, and the unread bytes are returned.
   */
  release(): Buffer {
    this.#released = true;
    this.socket.pause();
    this.socket.off("data", this.#onData);
    this.socket.off("error", this.#onEnd);
    this.socket.off("close", this.#onEnd);
    this.socket.off("end", this.#onEnd);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve(undefined);
    const rest = Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#bufferedBytes = 0;
    return rest;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.length;
    this.#deliver();
    // Nobody is reading: leave the rest in the kernel until someone does.
    if (!this.#waiter) this.socket.pause();
  };

  readonly #onEnd = (error?: unknown): void => {
    this.#failure ??= new ChannelClosedError(error instanceof Error ? error : undefined);
    this.#deliver();
  };

  #deliver(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    try {
      const packet = this.#take();
      if (packet) {
        this.#waiter = undefined;
        waiter.resolve(packet);
      } else if (this.#failure) {
        this.#waiter = undefined;
        waiter.reject(this.#failure);
      }
    } catch (error) {
      this.#waiter = undefined;
      this.#failure = error as Error;
      waiter.reject(error as Error);
    }
  }

  #take(): Packet | undefined {
    if (this.#bufferedBytes < HEADER_SIZE) return undefined;
    const header = this.#front(HEADER_SIZE);
    const length = header.readUIntLE(0, 3);
    if (length > this.#maxPayload) {
      throw new MalformedPacketError(
        `a ${length}-byte packet exceeds the ${this.#maxPayload}-byte handshake limit`,
      );
    }
    const size = HEADER_SIZE + length;
    if (this.#bufferedBytes < size) return undefined;
    const bytes = this.#front(size);
    this.#chunks[0] = bytes.subarray(size);
    if (this.#chunks[0].length === 0) this.#chunks.shift();
    this.#bufferedBytes -= size;
    return { sequence: bytes[3]!, payload: bytes.subarray(HEADER_SIZE, size) };
  }

  /** The first chunk, made to hold at least `size` bytes (all buffered bytes are that many). */
  #front(size: number): Buffer {
    if (this.#chunks[0]!.length < size) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!;
  }
}
