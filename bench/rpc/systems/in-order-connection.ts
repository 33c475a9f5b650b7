// The client side of a connection whose server answers in request order (the
// raw echo, JSON lines): requests are pipelined, and each reply settles the
// oldest request still waiting. The owner decodes the bytes and calls
// `settleOldest` once per reply.
import { once } from "node:events";
import type { Socket } from "node:net";
import type { ConnectedClient } from "../system.ts";
import { TickBatch } from "./tick-batch.ts";

interface Waiting {
  resolve(reply: unknown): void;
  reject(error: Error): void;
}

export class InOrderConnection implements ConnectedClient {
  readonly #socket: Socket;
  readonly #writer: TickBatch;
  readonly #encodeRequest: () => Buffer | string;
  readonly #waiting: Waiting[] = [];

  constructor(socket: Socket, encodeRequest: () => Buffer | string) {
    this.#socket = socket;
    this.#writer = new TickBatch(socket);
    this.#encodeRequest = encodeRequest;
    socket.on("close", () => {
      for (const waiting of this.#waiting.splice(0)) {
        waiting.reject(new Error("the connection closed"));
      }
    });
  }

  call(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#writer.write(this.#encodeRequest());
    });
  }

  /** Resolves the oldest request with the reply, or rejects it with an Error. */
  settleOldest(reply: unknown): void {
    const waiting = this.#waiting.shift();
    if (reply instanceof Error) waiting?.reject(reply);
    else waiting?.resolve(reply);
  }

  async close(): Promise<void> {
    this.#socket.end();
    await once(this.#socket, "close");
  }
}
