// A TCP listener that keeps track of its open connections, so that a proxy
// can refuse connections beyond a limit in its own protocol's words and drain
// on shutdown. Shared by the PostgreSQL, MySQL, SMTP, TLS and port proxies.
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";

export interface ConnectionListenerOptions {
  /** Called for each accepted connection while under the limit. */
  readonly onConnection: (socket: Socket) => void;
  /** Open connections allowed at once (default: no limit). */
  readonly maxConnections?: number;
  /** Called instead of onConnection when the limit is reached; closes the socket by default. */
  readonly onRefused?: (socket: Socket) => void;
  /**
   * Accept sockets that stay writable after the client has ended its side
   * (default false: Node then ends them at once). Only for users that watch
   * 'end' themselves, such as a relay that passes the half-close on.
   */
  readonly allowHalfOpen?: boolean;
}

/** How long close() lets open connections finish by default, in ms. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export class ConnectionListener {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  /** Refused connections still being told why; closed too at the drain deadline. */
  readonly #refused = new Set<Socket>();
  readonly #options: ConnectionListenerOptions;
  /** Resolves once the server is closed and every connection has ended. */
  #closed: Promise<void> | undefined;

  constructor(options: ConnectionListenerOptions) {
    this.#options = options;
    this.#server = createServer(
      { noDelay: true, allowHalfOpen: options.allowHalfOpen ?? false },
      (socket) => this.#accept(socket),
    );
  }

  /** Open connections, refused ones not counted. */
  get connections(): number {
    return this.#sockets.size;
  }

  async listen(port: number, host?: string): Promise<AddressInfo> {
    this.#server.listen(port, host);
    await once(this.#server, "listening");
    return this.#server.address() as AddressInfo;
  }

  /**
   * Stops accepting at once, lets open connections end on their own for up
   * to `timeoutMs`, then destroys those still open.
   */
  async close(timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    // The server's close callback runs once its last connection has ended.
    this.#closed ??= new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const deadline = setTimeout(() => {
      for (const socket of [...this.#sockets, ...this.#refused]) socket.destroy();
    }, timeoutMs);
    try {
      await this.#closed;
    } finally {
      clearTimeout(deadline);
    }
  }

  #accept(socket: Socket): void {
    // A reset before the proxy has written anything must not become an
    // unhandled 'error' event.
    socket.on("error", () => socket.destroy());
    const limit = this.#options.maxConnections ?? Number.POSITIVE_INFINITY;
    if (this.#sockets.size >= limit) {
      this.#refused.add(socket);
      socket.once("close", () => this.#refused.delete(socket));
      if (this.#options.onRefused) this.#options.onRefused(socket);
      else socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    this.#options.onConnection(socket);
  }
}
