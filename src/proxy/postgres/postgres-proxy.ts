// A PostgreSQL listener that routes each connection to a backend chosen by
// its database (or user, options setting, SNI) and then relays raw bytes.
import type { AddressInfo, Socket } from "node:net";
import {
  type ConnectionOptions,
  createSecureContext,
  type SecureContext,
  type SecureContextOptions,
} from "node:tls";
import { type BackendRouter, KernelSplice } from "../core/index.ts";
import { ConnectionListener } from "../tcp/connection-listener.ts";
import { CancelForwarder } from "./cancel-forwarder.ts";
import { CancelPeerListener } from "./cancel-peer-listener.ts";
import { ClientSession } from "./client-session.ts";
import { PostgresMetrics } from "./postgres-metrics.ts";
import type { RouteBy } from "./routing-key.ts";
import { SqlStateError } from "./sql-state-error.ts";

export interface PostgresProxyOptions {
  readonly router: BackendRouter;
  /** What chooses the backend (default: the database name). */
  readonly routeBy?: RouteBy;
  /** Certificate and key: SSLRequest is answered `S` and TLS terminated here. */
  readonly tls?: SecureContextOptions;
  /**
   * TLS towards TCP backends: true (system CAs, the endpoint's host checked)
   * or options for tls.connect (ca, servername, rejectUnauthorized …).
   */
  readonly backendTls?: boolean | ConnectionOptions;
  /** Connections beyond this are refused with 53300 (default 10 000). */
  readonly maxConnections?: number;
  /**
   * Time a client has to finish TLS and send its StartupMessage, and the
   * proxy to negotiate TLS with a backend (default 10 s).
   */
  readonly startupTimeoutMs?: number;
  /**
   * For several proxy processes on one port: each listens on its own Unix
   * socket and lists its siblings', so that a CancelRequest reaching the
   * wrong process still reaches the session's backend.
   */
  readonly cancelPeering?: CancelPeering;
  /** Where the proxy's metrics go (default: in the router's registry). */
  readonly metrics?: PostgresMetrics;
  /**
   * After the startup, hand plain TCP sessions to the kernel, which then
   * relays their bytes itself (default true; used where the machine allows
   * it, see KernelSplice).
   */
  readonly kernelSplice?: boolean;
}

export interface CancelPeering {
  /** This process's peer socket path (created mode 0600). */
  readonly listen: string;
  /** The sibling processes' peer socket paths. */
  readonly peers: readonly string[];
}

export class PostgresProxy {
  readonly metrics: PostgresMetrics;
  readonly #listener: ConnectionListener;
  /** The end of each open session. */
  readonly #sessions = new Set<Promise<void>>();
  readonly #cancels: CancelForwarder;
  readonly #peerListener: CancelPeerListener | undefined;
  readonly #router: BackendRouter;
  readonly #routeBy: RouteBy;
  readonly #secureContext: SecureContext | undefined;
  readonly #startupTimeoutMs: number;
  readonly #backendTls: ConnectionOptions | undefined;
  readonly #splice: KernelSplice | undefined;

  constructor(options: PostgresProxyOptions) {
    this.#router = options.router;
    this.#routeBy = options.routeBy ?? "database";
    this.#secureContext = options.tls ? createSecureContext(options.tls) : undefined;
    this.#startupTimeoutMs = options.startupTimeoutMs ?? 10_000;
    this.#backendTls = options.backendTls === true ? {} : options.backendTls || undefined;
    this.metrics = options.metrics ?? new PostgresMetrics(options.router.metrics.registry);
    this.#splice = options.kernelSplice === false ? undefined : KernelSplice.shared();
    const peering = options.cancelPeering;
    this.#cancels = new CancelForwarder({
      router: this.#router,
      metrics: this.metrics,
      peers: peering?.peers,
      backendTls: this.#backendTls,
    });
    this.#peerListener = peering && new CancelPeerListener(peering.listen, this.#cancels);
    this.#listener = new ConnectionListener({
      onConnection: (socket) => this.#accept(socket),
      maxConnections: options.maxConnections ?? 10_000,
      onRefused: (socket) =>
        this.#session(socket).refuse(new SqlStateError("53300", "sorry, too many clients already")),
    });
  }

  /** Client connections currently open. */
  get connections(): number {
    return this.#sessions.size;
  }

  /** Cancel keys currently issued: one per session past its startup. */
  get issuedCancelKeys(): number {
    return this.#cancels.keys.size;
  }

  async listen(port = 0, host = "127.0.0.1"): Promise<AddressInfo> {
    await this.#peerListener?.listen();
    try {
      return await this.#listener.listen(port, host);
    } catch (error) {
      await this.#peerListener?.close();
      throw error;
    }
  }

  /**
   * Drains: stops accepting, lets open sessions end on their own, and closes
   * those still open after `drainTimeoutMs` (default 10 s). Resolves once all
   * are closed.
   */
  async close(drainTimeoutMs?: number): Promise<void> {
    await Promise.all([
      this.#listener.close(drainTimeoutMs),
      this.#peerListener?.close(),
      ...this.#sessions,
    ]);
  }

  #session(socket: Socket): ClientSession {
    return new ClientSession(socket, {
      router: this.#router,
      routeBy: this.#routeBy,
      secureContext: this.#secureContext,
      cancels: this.#cancels,
      startupTimeoutMs: this.#startupTimeoutMs,
      metrics: this.metrics,
      backendTls: this.#backendTls,
      splice: this.#splice,
    });
  }

  #accept(socket: Socket): void {
    this.metrics.openConnections.inc();
    const ended = this.#session(socket)
      .run()
      .finally(() => {
        this.#sessions.delete(ended);
        this.metrics.openConnections.dec();
      });
    this.#sessions.add(ended);
  }
}
