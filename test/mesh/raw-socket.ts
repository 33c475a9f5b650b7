// A bare Unix-socket peer for tests that speak the wire by hand.
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { encodeFrame, type Frame, FrameDecoder, FrameType, PREFACE } from "../../src/wire/index.ts";

export class RawPeer {
  readonly socket: Socket;
  readonly #received: Buffer[] = [];
  #closed = false;
  readonly #waiters = new Set<() => void>();

  static async open(path: string): Promise<RawPeer> {
    const socket = connect(path);
    await once(socket, "connect");
    return new RawPeer(socket);
  }

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#received.push(chunk);
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  get text(): string {
    return Buffer.concat(this.#received).toString();
  }

  get bytes(): Buffer {
    return Buffer.concat(this.#received);
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Resolves when the condition holds, checked after every chunk and on close. */
  async until(condition: () => boolean): Promise<void> {
    while (!condition()) {
      if (this.#closed) throw new Error(`closed before the condition held; received: ${this.text}`);
      await new Promise<void>((resolve) => this.#waiters.add(resolve));
    }
  }

  async untilClosed(): Promise<void> {
    while (!this.#closed) await new Promise<void>((resolve) => this.#waiters.add(resolve));
  }

  /** The frames received so far (after nothing but frames). */
  frames(maxPayload = 1 << 24): Frame[] {
    const frames: Frame[] = [];
    new FrameDecoder(maxPayload).push(this.bytes, (frame) => frames.push(frame));
    return frames;
  }

  /** Opens framed RPC: preface and HELLO. */
  hello(token: string | undefined, codecs: string[] = ["json"]): void {
    const hello = JSON.stringify({ version: 1, codecs, ...(token === undefined ? {} : { token }) });
    this.write(Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, hello)]));
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
    this.#waiters.clear();
  }
}
