// Writes frames for one connection. Frames sent during one tick are laid
// end to end in one buffer and leave in one write; when the kernel takes
// that write at once, the buffer is reused for the next tick, so a busy
// connection allocates nothing per frame.
import type { Socket } from "node:net";
import { type FrameType, HEADER_SIZE, payloadLength, writeFrame } from "../wire/frame.ts";

const INITIAL_BYTES = 16 * 1024;

export class FrameWriter {
  readonly #socket: Socket;
  #buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  #used = 0;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  frame(type: FrameType, id: number, payload?: Buffer | string): void {
    const length = payloadLength(payload);
    const needed = this.#used + HEADER_SIZE + length;
    if (needed > this.#buffer.length) this.#grow(needed);
    if (this.#used === 0) process.nextTick(flush, this);
    writeFrame(this.#buffer, this.#used, type, id, payload, length);
    this.#used = needed;
  }

  /** Sends what is queued now (before ending the socket, say). */
  flush(): void {
    if (this.#used === 0) return;
    const bytes = this.#buffer.subarray(0, this.#used);
    this.#used = 0;
    if (!this.#socket.writable) return;
    this.#socket.write(bytes);
    // Written through to the kernel: the buffer is free again. Otherwise the
    // socket still holds it, and the next tick gets a fresh one.
    if (this.#socket.writableLength > 0) this.#buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  #grow(needed: number): void {
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#buffer.length * 2));
    this.#buffer.copy(grown, 0, 0, this.#used);
    this.#buffer = grown;
  }
}

function flush(writer: FrameWriter): void {
  writer.flush();
}
