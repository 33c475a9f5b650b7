// A MySQL/MariaDB listener that routes each connection by the database the
// client names in its handshake, without ever holding a password: see
// mysql-session.ts for the exchange and docs/mysql.md for the picture.
import type { AddressInfo, Socket } from "node:net";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { type BackendRouter, KernelSplice } from "../core/index.ts";
import { ConnectionListener } from "../tcp/connection-listener.ts";
import { ConnectionIds } from "./connection-ids.ts";
import { encodeErr } from "./err-packet.ts";
import { MysqlMetrics } from "./mysql-metrics.ts";
import { MysqlSession, type SessionSettings } from "./mysql-session.ts";
import { encodePacket } from "./packet.ts";
import { serverErrors } from "./server-errors.ts";

/** How long a refused client has to read its ERR 1040 and close. */
const REFUSAL_GRACE_MS = 2000;

export interface MysqlProxyOptions {
  readonly router: BackendRouter;
  /** Certificate and key: offer TLS (CLIENT_SSL) and terminate it. */
  readonly tls?: SecureContextOptions;
  /** Refuse clients that do not start TLS (needs `tls`). */
  readonly requireTls?: boolean;
  /** Routing key for clients that name no database; without it they get ERR 1046. */
  readonly defaultRoute?: string;
  /**
   * The version in the proxy's greeting. Clients adapt to it (mysql2 and
   * Connector/J treat a version containing "MariaDB" as MariaDB), so it
   * should name the kind of server behind the proxy.
   */
  readonly serverVersion?: string;
  /** Time from accept to authenticated, after which the client gets ERR 2013 (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** Connections beyond this get ERR 1040 instead of a greeting (default 10 000). */
  readonly maxConnections?: number;
  /** Where handshake outcomes are counted (default: in the router's metrics registry). */
  readonly metrics?: MysqlMetrics;
  /**
   * After authentication, a plain TCP client's session is relayed by the
   * kernel both ways without waking the process (default true; used where
   * the machine allows it, see KernelSplice). The kernel hands the client's
   * bytes to the process, which translates KILL, from the first chunk that
   * may hold one.
   */
  readonly kernelSplice?: boolean;
}

export const DEFAULT_SERVER_VERSION = "5.5.5-10.11.0-MariaDB-nexus";

export class MysqlProxy {
  readonly metrics: MysqlMetrics;
  readonly #listener: ConnectionListener;
  readonly #settings: SessionSettings;

  constructor(options: MysqlProxyOptions) {
    if (options.requireTls && !options.tls) {
      throw new TypeError("requireTls needs a tls certificate and key");
    }
    this.metrics = options.metrics ?? new MysqlMetrics(options.router.metrics.registry);
    this.#settings = {
      router: options.router,
      metrics: this.metrics,
      connectionIds: new ConnectionIds(),
      tls: options.tls ? createSecureContext(options.tls) : undefined,
      requireTls: options.requireTls ?? false,
      defaultRoute: options.defaultRoute,
      serverVersion: options.serverVersion ?? DEFAULT_SERVER_VERSION,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      splice: options.kernelSplice === false ? undefined : KernelSplice.shared(),
    };
    this.#listener = new ConnectionListener({
      onConnection: (socket) => this.#accept(socket),
      maxConnections: options.maxConnections ?? 10_000,
      onRefused: (socket) => this.#refuse(socket),
    });
  }

  listen(port = 0, host = "127.0.0.1"): Promise<AddressInfo> {
    return this.#listener.listen(port, host);
  }

  /**
   * Drains: stops accepting, lets open sessions end on their own, and
   * closes those still open after `drainTimeoutMs` (default 10 s). Resolves
   * once all are closed.
   */
  close(drainTimeoutMs?: number): Promise<void> {
    return this.#listener.close(drainTimeoutMs);
  }

  #accept(socket: Socket): void {
    const session = new MysqlSession(
      socket,
      this.#settings.connectionIds.allocate(),
      this.#settings,
    );
    this.metrics.openConnections.inc();
    socket.once("close", () => this.metrics.openConnections.dec());
    void session.run();
  }

  /** What a full MySQL server sends in place of its greeting. */
  #refuse(socket: Socket): void {
    socket.end(encodePacket(0, encodeErr(serverErrors.tooManyConnections())));
    // A client that never closes its side must not hold the socket for ever.
    socket.setTimeout(REFUSAL_GRACE_MS, () => socket.destroy());
    this.metrics.handshakes.inc({ outcome: "1040" });
  }
}
