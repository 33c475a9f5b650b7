// A TCP listener that keeps track of its open connections, so that a proxy
// can refuse connections beyond a limit in its own protocol's words and close
// everything on shutdown. Shared by the SMTP, TLS and port proxies.
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";

export interface ConnectionListenerOptions {
  /** Called for each accepted connection while under the limit. */
  readonly onConnection: (socket: Socket) => void;
  /** Open connections allowed at once (default: no limit). */
  readonly maxConnections?: number;
  /** Called instead of onConnection when the limit is reached; closes the socket by default. */
  readonly onRefused?: (socket: Socket) => void;
}

export class ConnectionListener {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #options: ConnectionListenerOptions;

  constructor(options: ConnectionListenerOptions) {
    this.#options = options;
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
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

  /** Stops accepting and destroys every open connection. */
  async close(): Promise<void> {
    const closed = this.#server.listening
      ? new Promise<void>((resolve) => this.#server.close(() => resolve()))
      : Promise.resolve();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  #accept(socket: Socket): void {
    // A reset before the proxy has written anything must not become an
    // unhandled 'error' event.
    socket.on("error", () => socket.destroy());
    const limit = this.#options.maxConnections ?? Number.POSITIVE_INFINITY;
    if (this.#sockets.size >= limit) {
      if (this.#options.onRefused) this.#options.onRefused(socket);
      else socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
    this.#options.onConnection(socket);
  }
}
