// Routes TLS connections by the server name in their ClientHello without
// terminating TLS (what nginx ssl_preread and Traefik HostSNI do): read the
// ClientHello, resolve the name, connect, replay the bytes read, relay.
// A half-close is passed on both ways, as the port router does.
import type { AddressInfo, Socket } from "node:net";
import { type BackendRouter, KernelSplice, ResolverError, relay } from "../core/index.ts";
import { ConnectionListener } from "../tcp/connection-listener.ts";
import { openBackend } from "../tcp/open-backend.ts";
import { type ClientHello, DEFAULT_MAX_CLIENT_HELLO, readClientHello } from "./client-hello.ts";
import { alertRecord, TlsAlert, type TlsAlertDescription } from "./tls-alert.ts";

export interface TlsSniProxyOptions {
  readonly router: BackendRouter;
  /** Routing key for ClientHellos without a server name; without it they are closed. */
  readonly defaultRoute?: string;
  /**
   * Turns a ClientHello into a routing key (default: its server name, or
   * `defaultRoute`). Return undefined to refuse the connection.
   */
  readonly routeKey?: (hello: ClientHello) => string | undefined;
  /** Largest ClientHello accepted, in bytes (default 16 KiB). */
  readonly maxClientHelloBytes?: number;
  /** Time a client has to send its whole ClientHello (default 10 s). */
  readonly helloTimeoutMs?: number;
  /** Open client connections allowed at once (default: no limit). */
  readonly maxConnections?: number;
  /**
   * Hand each relayed connection to the kernel, which then moves its bytes
   * itself (default true; used where the machine allows it, see KernelSplice).
   */
  readonly kernelSplice?: boolean;
}

export class TlsSniProxy {
  readonly #router: BackendRouter;
  readonly #routeKey: (hello: ClientHello) => string | undefined;
  readonly #maxHelloBytes: number;
  readonly #helloTimeoutMs: number;
  readonly #splice: KernelSplice | undefined;
  readonly #listener: ConnectionListener;

  constructor(options: TlsSniProxyOptions) {
    this.#router = options.router;
    const defaultRoute = options.defaultRoute;
    this.#routeKey = options.routeKey ?? ((hello) => hello.serverName ?? defaultRoute);
    this.#maxHelloBytes = options.maxClientHelloBytes ?? DEFAULT_MAX_CLIENT_HELLO;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.#splice = options.kernelSplice === false ? undefined : KernelSplice.shared();
    this.#listener = new ConnectionListener({
      onConnection: (socket) => void this.#handle(socket),
      maxConnections: options.maxConnections,
      allowHalfOpen: true,
    });
  }

  listen(port: number, host?: string): Promise<AddressInfo> {
    return this.#listener.listen(port, host);
  }

  /** Stops accepting; open connections get up to `timeoutMs` to end. */
  close(timeoutMs?: number): Promise<void> {
    return this.#listener.close(timeoutMs);
  }

  async #handle(client: Socket): Promise<void> {
    const read = await this.#readHello(client);
    if (!read) return;
    const { hello, bytes } = read;
    const key = this.#routeKey(hello);
    if (key === undefined) return refuse(client, TlsAlert.unrecognizedName);
    const context = {
      protocol: "tls",
      clientAddress: client.remoteAddress,
      serverName: hello.serverName,
    } as const;
    try {
      const opened = await openBackend(this.#router, key, context, client, {
        allowHalfOpen: true,
      });
      // Gone, or only ended its side: a client that can send nothing more
      // cannot finish a TLS handshake, so the rest is closed too.
      if (!opened) return void client.destroy();
      opened.backend.write(bytes);
      await relay(client, opened.backend, { splice: this.#splice });
    } catch (error) {
      const notFound = error instanceof ResolverError && error.code === "NOT_FOUND";
      refuse(client, notFound ? TlsAlert.unrecognizedName : TlsAlert.internalError);
    }
  }

  /**
   * Collects bytes until they hold a whole ClientHello; undefined once the
   * client is closed, or has ended its side before the hello was complete.
   */
  #readHello(client: Socket): Promise<{ hello: ClientHello; bytes: Buffer } | undefined> {
    return new Promise((resolve) => {
      let bytes = Buffer.alloc(0);
      const finish = (result: { hello: ClientHello; bytes: Buffer } | undefined) => {
        clearTimeout(timer);
        client.off("data", onData);
        client.off("close", onClose);
        client.off("end", onEnd);
        client.pause();
        resolve(result);
      };
      const onData = (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        try {
          const read = readClientHello(bytes, this.#maxHelloBytes);
          if (read.complete) finish({ hello: read.hello, bytes });
        } catch {
          // A ClientHelloError; anything else is refused alike, never thrown
          // out of an event handler.
          refuse(client, TlsAlert.decodeError);
          finish(undefined);
        }
      };
      const onClose = () => finish(undefined);
      // Nothing more can come to complete the hello: close without an alert,
      // as for a hello that does not arrive in time.
      const onEnd = () => {
        client.end();
        finish(undefined);
      };
      const timer = setTimeout(() => {
        client.destroy();
        finish(undefined);
      }, this.#helloTimeoutMs);
      client.on("data", onData);
      client.once("close", onClose);
      client.once("end", onEnd);
    });
  }
}

/** Sends a fatal alert and closes: the client sees why, the proxy moves on. */
function refuse(client: Socket, description: TlsAlertDescription): void {
  client.end(alertRecord(description));
  client.destroySoon();
}
