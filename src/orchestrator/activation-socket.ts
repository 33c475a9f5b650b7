// Socket activation for an on-demand service: while the service sleeps, the
// supervisor itself listens on the service's socket path. The first
// connection wakes the service; connections that arrived meanwhile wait
// (unread) and are then relayed to the fresh process, which has taken the
// path over. Later connections reach the service directly.
import { connect, createServer, type Server, type Socket } from "node:net";
import { relay } from "../proxy/core/index.ts";
import { type BoundSocket, bindSocket, releaseSocket } from "../transport/index.ts";

export class ActivationSocket {
  readonly path: string;
  readonly #wake: () => Promise<void>;
  readonly #waitLimitMs: number;
  #server: Server | undefined;
  /** Our socket file at `path`, to remove it on close only if still ours. */
  #bound: BoundSocket | undefined;
  #waiting: Socket[] = [];
  #waking: Promise<void> | undefined;

  /**
   * `wake` starts the service and resolves once it listens on `path` (or
   * rejects); a connection waits for it at most `waitLimitMs`, then is closed.
   */
  constructor(path: string, wake: () => Promise<void>, waitLimitMs: number) {
    this.path = path;
    this.#wake = wake;
    this.#waitLimitMs = waitLimitMs;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Takes the socket path over, atomically: callers never see it missing. Idempotent. */
  async listen(): Promise<void> {
    if (this.#server) return;
    // Half-open both ways, so that a client that sends its request and shuts
    // its side (as `echo … | socat` does) still reads the answer.
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) =>
      this.#accept(socket),
    );
    // Replaces on purpose: going idle, it takes the path back from the still-running service.
    this.#bound = await bindSocket(server, this.path, true);
    this.#server = server;
  }

  /** Stops listening and removes the socket file if no service took it over. */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#waiting.splice(0)) socket.destroy();
    if (server === undefined) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.#bound !== undefined) await releaseSocket(this.#bound);
  }

  #accept(socket: Socket): void {
    socket.on("error", () => socket.destroy());
    this.#waiting.push(socket);
    const limit = setTimeout(() => {
      this.#waiting = this.#waiting.filter((waiting) => waiting !== socket);
      socket.destroy();
    }, this.#waitLimitMs);
    socket.once("close", () => clearTimeout(limit));
    socket.once("resume", () => clearTimeout(limit));
    this.#waking ??= this.#wake().then(
      () => this.handOver(),
      () => {
        this.#waking = undefined;
        for (const waiting of this.#waiting.splice(0)) waiting.destroy();
      },
    );
  }

  /**
   * The service now owns the path: relay what waited here to it, and stop
   * listening. Called after every wake-up, whoever asked for it, so that the
   * next listen() takes the path back instead of keeping a stale server. Idempotent.
   */
  handOver(): void {
    const server = this.#server;
    this.#server = undefined;
    this.#waking = undefined;
    // Connections the kernel queued before the rename still reach this server until it closes.
    server?.removeAllListeners("connection").on("connection", (socket: Socket) => {
      this.#relay(socket);
    });
    for (const socket of this.#waiting.splice(0)) this.#relay(socket);
    // Not awaited: the close callback waits for the relayed connections to end.
    server?.close();
  }

  #relay(socket: Socket): void {
    const backend = connect({ path: this.path, allowHalfOpen: true });
    void relay(socket, backend);
    socket.resume();
  }
}
