// Sends the writes a client makes during one tick in one syscall (cork now,
// uncork on the next tick): with 64 requests in flight, the replies that
// arrive together start 64 new requests together.
import type { Socket } from "node:net";

export class TickBatch {
  readonly #socket: Socket;
  #corked = false;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  write(bytes: Buffer | string): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#socket.uncork();
      });
    }
    this.#socket.write(bytes);
  }
}
