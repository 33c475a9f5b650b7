// Reads whole packets from a socket while the proxy still inspects traffic
// (the handshake). `release()` stops reading and hands back the bytes that
// arrived after the last packet read, so that a raw relay can take over
// without losing any.
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
  #buffered: Buffer = Buffer.alloc(0);
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
    });
  }

  write(sequence: number, payload: Buffer): void {
    this.socket.write(encodePacket(sequence, payload));
  }

  /** Bytes received but not yet read as packets. */
  get bufferedBytes(): number {
    return this.#buffered.length;
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
    const rest = this.#buffered;
    this.#buffered = Buffer.alloc(0);
    return rest;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    this.#deliver();
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
    if (this.#buffered.length < HEADER_SIZE) return undefined;
    const length = this.#buffered.readUIntLE(0, 3);
    if (length > this.#maxPayload) {
      throw new MalformedPacketError(
        `a ${length}-byte packet exceeds the ${this.#maxPayload}-byte handshake limit`,
      );
    }
    if (this.#buffered.length < HEADER_SIZE + length) return undefined;
    const packet = {
      sequence: this.#buffered[3]!,
      payload: this.#buffered.subarray(HEADER_SIZE, HEADER_SIZE + length),
    };
    this.#buffered = this.#buffered.subarray(HEADER_SIZE + length);
    return packet;
  }
}
