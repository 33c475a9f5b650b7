// Coalesces the writes made during one tick into one syscall: the socket is
// corked on the first write and uncorked on the next tick.
import type { Socket } from "node:net";

export class TickWriter {
  readonly #socket: Socket;
  #corked = false;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  write(bytes: Buffer): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      process.nextTick(flush, this);
    }
    this.#socket.write(bytes);
  }

  /** Sends what is corked now (before ending the socket, say). */
  flush(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  }
}

function flush(writer: TickWriter): void {
  writer.flush();
}
