// Routes plain TCP connections by the port they arrived on, for protocols
// that give the proxy nothing to read (or that it should not read). The
// routing key is the listening port number, or a name given to `listen`.
// A half-close is passed on: a client that ends its side still gets the
// backend's reply, and the other way round.
import type { AddressInfo, Socket } from "node:net";
import { type BackendRouter, KernelSplice, relay } from "../core/index.ts";
import { ConnectionListener } from "./connection-listener.ts";
import { openBackend } from "./open-backend.ts";

export interface TcpPortProxyOptions {
  readonly router: BackendRouter;
  /** Open client connections allowed at once, over all ports (default: no limit). */
  readonly maxConnections?: number;
  /**
   * Hand each relayed connection to the kernel, which then moves its bytes
   * itself (default true; used where the machine allows it, see KernelSplice).
   */
  readonly kernelSplice?: boolean;
}

export class TcpPortProxy {
  readonly #router: BackendRouter;
  readonly #maxConnections: number | undefined;
  readonly #splice: KernelSplice | undefined;
  readonly #listeners: ConnectionListener[] = [];

  constructor(options: TcpPortProxyOptions) {
    this.#router = options.router;
    this.#maxConnections = options.maxConnections;
    this.#splice = options.kernelSplice === false ? undefined : KernelSplice.shared();
  }

  /**
   * Listens on one more port. Connections to it are routed by `key`, or by
   * the port number as a string ("2525") when no key is given.
   */
  async listen(port: number, host?: string, key?: string): Promise<AddressInfo> {
    let routeKey = key;
    const listener = new ConnectionListener({
      onConnection: (socket) => void this.#forward(socket, routeKey ?? ""),
      maxConnections: this.#maxConnections,
      allowHalfOpen: true,
    });
    this.#listeners.push(listener);
    const address = await listener.listen(port, host);
    routeKey ??= String(address.port);
    return address;
  }

  /** Stops accepting on every port; open connections get up to `timeoutMs` to end. */
  async close(timeoutMs?: number): Promise<void> {
    await Promise.all(this.#listeners.map((listener) => listener.close(timeoutMs)));
    this.#listeners.length = 0;
  }

  async #forward(client: Socket, key: string): Promise<void> {
    const context = { protocol: "tcp", clientAddress: client.remoteAddress } as const;
    // Bytes the client sends before the backend is connected wait in the
    // socket's buffer: it is not read until relay pipes it.
    client.pause();
    try {
      const opened = await openBackend(this.#router, key, context, client, {
        allowHalfOpen: true,
      });
      // A client that left may have only ended its side: close the rest.
      if (!opened) client.destroy();
      else await relay(client, opened.backend, { splice: this.#splice });
    } catch {
      // Nothing in a raw TCP stream can carry an error: closing is the answer.
      client.destroy();
    }
  }
}
