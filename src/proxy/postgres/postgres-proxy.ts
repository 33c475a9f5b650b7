// A PostgreSQL listener that routes each connection to a backend chosen by
// its database (or user, options setting, SNI) and then relays raw bytes.
import type { AddressInfo } from "node:net";
import { createServer, type Server, type Socket } from "node:net";
import {
  type ConnectionOptions,
  createSecureContext,
  type SecureContext,
  type SecureContextOptions,
} from "node:tls";
import type { BackendRouter } from "../core/index.ts";
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
}

export interface CancelPeering {
  /** This process's peer socket path (created mode 0600). */
  readonly listen: string;
  /** The sibling processes' peer socket paths. */
  readonly peers: readonly string[];
}

const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

export class PostgresProxy {
  readonly metrics: PostgresMetrics;
  readonly #server: Server;
  /** Open sessions, each with the promise of its end. */
  readonly #sessions = new Map<ClientSession, Promise<void>>();
  readonly #cancels: CancelForwarder;
  readonly #peerListener: CancelPeerListener | undefined;
  readonly #router: BackendRouter;
  readonly #routeBy: RouteBy;
  readonly #secureContext: SecureContext | undefined;
  readonly #maxConnections: number;
  readonly #startupTimeoutMs: number;
  readonly #backendTls: ConnectionOptions | undefined;

  constructor(options: PostgresProxyOptions) {
    this.#router = options.router;
    this.#routeBy = options.routeBy ?? "database";
    this.#secureContext = options.tls ? createSecureContext(options.tls) : undefined;
    this.#maxConnections = options.maxConnections ?? 10_000;
    this.#startupTimeoutMs = options.startupTimeoutMs ?? 10_000;
    this.#backendTls = options.backendTls === true ? {} : options.backendTls || undefined;
    this.metrics = options.metrics ?? new PostgresMetrics(options.router.metrics.registry);
    const peering = options.cancelPeering;
    this.#cancels = new CancelForwarder({
      router: this.#router,
      metrics: this.metrics,
      peers: peering?.peers,
      backendTls: this.#backendTls,
    });
    this.#peerListener = peering && new CancelPeerListener(peering.listen, this.#cancels);
    this.#server = createServer({ noDelay: true }, (socket) => this.#accept(socket));
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
      return await new Promise((resolve, reject) => {
        this.#server.once("error", reject);
        this.#server.listen(port, host, () => {
          this.#server.off("error", reject);
          resolve(this.#server.address() as AddressInfo);
        });
      });
    } catch (error) {
      await this.#peerListener?.close();
      throw error;
    }
  }

  /**
   * Drains: stops accepting, lets open sessions end on their own, and closes
   * those still open after `drainTimeoutMs`. Resolves once all are closed.
   */
  async close(drainTimeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    const deadline = setTimeout(() => {
      for (const session of this.#sessions.keys()) session.close();
    }, drainTimeoutMs);
    await Promise.all([closed, this.#peerListener?.close(), ...this.#sessions.values()]);
    clearTimeout(deadline);
  }

  #accept(socket: Socket): void {
    const session = new ClientSession(socket, {
      router: this.#router,
      routeBy: this.#routeBy,
      secureContext: this.#secureContext,
      cancels: this.#cancels,
      startupTimeoutMs: this.#startupTimeoutMs,
      metrics: this.metrics,
      backendTls: this.#backendTls,
    });
    if (this.#sessions.size >= this.#maxConnections) {
      session.refuse(new SqlStateError("53300", "sorry, too many clients already"));
      return;
    }
    this.metrics.openConnections.inc();
    const ended = session.run().finally(() => {
      this.#sessions.delete(session);
      this.metrics.openConnections.dec();
    });
    this.#sessions.set(session, ended);
  }
}
