// Reads the untagged packets a client sends before its session starts
// (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage) from a socket,
// then hands the socket back, paused, with whatever was read beyond them.
import type { Duplex } from "node:stream";
import { SqlStateError } from "./sql-state-error.ts";
import { MAX_STARTUP_PACKET_LENGTH, startupPacketLength } from "./startup-packet.ts";

export class StartupPacketReader {
  readonly #stream: Duplex;
  #buffered: Buffer = Buffer.alloc(0);
  #ended = false;
  #waiting: { resolve: (packet: Buffer) => void; reject: (error: Error) => void } | undefined;

  constructor(stream: Duplex) {
    this.#stream = stream;
    stream.on("data", this.#onData);
    stream.on("end", this.#onEnd);
    stream.on("close", this.#onEnd);
  }

  /** Bytes received after the last packet read. */
  get buffered(): Buffer {
    return this.#buffered;
  }

  /** The first byte not yet read as part of a packet, once there is one. */
  peek(): Promise<number> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#buffered.length > 0) {
          done();
          resolve(this.#buffered[0]!);
        } else if (this.#ended) {
          done();
          reject(new SqlStateError("08P01", "incomplete startup packet"));
        }
      };
      const done = () => {
        this.#stream.off("data", check);
        this.#stream.off("end", check);
        this.#stream.off("close", check);
      };
      this.#stream.on("data", check);
      this.#stream.on("end", check);
      this.#stream.on("close", check);
      check();
    });
  }

  /** The next whole packet, length prefix included. Rejects with a SqlStateError. */
  next(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#settle();
      if (this.#waiting) this.#stream.resume();
    });
  }

  /** Stops reading; the stream stays paused for whoever reads it next. */
  release(): Buffer {
    this.#stream.off("data", this.#onData);
    this.#stream.off("end", this.#onEnd);
    this.#stream.off("close", this.#onEnd);
    this.#stream.pause();
    const rest = this.#buffered;
    this.#buffered = Buffer.alloc(0);
    return rest;
  }

  readonly #onData = (chunk: Buffer) => {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    // Enough for any startup packet: hold the rest back in the kernel until
    // the proxy asks for more, so a client cannot flood memory meanwhile.
    if (this.#buffered.length >= MAX_STARTUP_PACKET_LENGTH) this.#stream.pause();
    this.#settle();
  };

  readonly #onEnd = () => {
    this.#ended = true;
    this.#settle();
  };

  #settle(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    try {
      const packet = this.#take();
      if (packet) {
        this.#waiting = undefined;
        waiting.resolve(packet);
      } else if (this.#ended) {
        this.#waiting = undefined;
        waiting.reject(new SqlStateError("08P01", "incomplete startup packet"));
      }
    } catch (error) {
      this.#waiting = undefined;
      waiting.reject(error as Error);
    }
  }

  #take(): Buffer | undefined {
    if (this.#buffered.length < 4) return undefined;
    const length = startupPacketLength(this.#buffered);
    if (this.#buffered.length < length) return undefined;
    const packet = this.#buffered.subarray(0, length);
    this.#buffered = this.#buffered.subarray(length);
    return packet;
  }
}
