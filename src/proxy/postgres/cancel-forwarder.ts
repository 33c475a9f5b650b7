// Delivers CancelRequests. A key this proxy issued goes to the backend that
// owns the session; any other key may belong to a sibling proxy process on
// the same port (workers sharing a listener), so it is passed to each
// sibling's peer socket, and the one that issued it delivers it.
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { BackendRouter, ResolveContext, Route } from "../core/index.ts";
import { startBackendTls } from "./backend-tls.ts";
import { type BackendKey, CancelKeyRegistry } from "./cancel-keys.ts";
import type { PostgresMetrics } from "./postgres-metrics.ts";
import { encodeCancelRequest } from "./startup-packet.ts";

/** Where a CancelRequest for a session must go. */
export interface CancelTarget {
  readonly route: Route;
  readonly context: ResolveContext;
}

/** How long one delivery may take before its connection is cut. */
const DELIVERY_TIMEOUT_MS = 5000;

export class CancelForwarder {
  readonly keys = new CancelKeyRegistry<CancelTarget>();
  readonly #router: BackendRouter;
  readonly #peers: readonly string[];
  readonly #metrics: PostgresMetrics;
  readonly #backendTls: ConnectionOptions | undefined;

  constructor(options: {
    readonly router: BackendRouter;
    readonly metrics: PostgresMetrics;
    readonly peers?: readonly string[];
    /** Cancel requests to TCP backends go through TLS too, when set. */
    readonly backendTls?: ConnectionOptions;
  }) {
    this.#router = options.router;
    this.#metrics = options.metrics;
    this.#peers = options.peers ?? [];
    this.#backendTls = options.backendTls;
  }

  /** The backend key never crosses the network in clear when sessions do not. */
  async #secure(socket: Socket, route: Route): Promise<Socket> {
    if (!this.#backendTls || route.endpoint.kind !== "tcp") return socket;
    socket.on("error", () => {});
    try {
      const { endpoint } = route;
      return await startBackendTls(
        socket,
        endpoint,
        this.#backendTls,
        "the server",
        DELIVERY_TIMEOUT_MS,
      );
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  /**
   * Cancels the query of the session that owns `clientKey`. Resolves once
   * delivered or given up; as the server does, it never says which.
   * `askPeers` is false for requests that came from a sibling (no loops).
   */
  async cancel(clientKey: BackendKey, askPeers: boolean): Promise<void> {
    const entry = this.keys.find(clientKey);
    if (entry) {
      const { route, context } = entry.target;
      const backend = await this.#router
        .connect(route, context)
        .then((socket) => this.#secure(socket, route))
        .catch(() => undefined);
      const { processId, secretKey } = entry.backendKey;
      this.#metrics.cancelRequests.inc({ outcome: backend ? "delivered" : "backend_unreachable" });
      if (backend) await deliver(backend, encodeCancelRequest(processId, secretKey));
    } else if (askPeers && this.#peers.length > 0) {
      this.#metrics.cancelRequests.inc({ outcome: "asked_peers" });
      const request = encodeCancelRequest(clientKey.processId, clientKey.secretKey);
      await Promise.all(this.#peers.map((path) => deliver(connect({ path }), request)));
    } else {
      this.#metrics.cancelRequests.inc({ outcome: "unknown_key" });
    }
  }
}

/** Sends one request and waits until the other side hangs up (the server does once it acted). */
async function deliver(socket: Socket, request: Buffer): Promise<void> {
  socket.on("error", () => {});
  socket.setTimeout(DELIVERY_TIMEOUT_MS, () => socket.destroy());
  socket.end(request);
  socket.resume();
  await once(socket, "close");
}
