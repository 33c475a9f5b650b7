// Prometheus metrics of the PostgreSQL proxy: how session startups end, how
// cancel requests are handled, how many client connections are open, and
// whether the kernel or the process relayed each session.
// Routing, cache, breaker and backend connection figures are the core's
// (ProxyMetrics), in the same registry by default.
import { Counter, Gauge, type Registry } from "prom-client";

export type StartupOutcome =
  /** The backend said ReadyForQuery: the session is relayed. */
  | "ready"
  /** The backend refused the session (wrong password, unknown role …). */
  | "backend_error"
  /** A side hung up before the session was ready. */
  | "closed"
  /** The connection carried a CancelRequest, not a session. */
  | "cancel_request"
  /** The proxy refused the session with this SQLSTATE (3D000, 53300 …). */
  | (string & {});

export class PostgresMetrics {
  readonly startups: Counter<"outcome">;
  readonly cancelRequests: Counter<"outcome">;
  readonly openConnections: Gauge;
  readonly relayedSessions: Counter<"mover">;

  constructor(registry: Registry) {
    const registers = [registry];
    const counter = (name: string, help: string) =>
      (registry.getSingleMetric(name) as Counter<"outcome"> | undefined) ??
      new Counter({ name, help, labelNames: ["outcome"], registers });
    this.startups = counter(
      "nexus_postgres_startups_total",
      "PostgreSQL connections by how their startup ended (ready, backend_error, closed, cancel_request or the SQLSTATE the proxy sent)",
    );
    this.cancelRequests = counter(
      "nexus_postgres_cancel_requests_total",
      "PostgreSQL CancelRequests, by outcome (delivered, backend_unreachable, asked_peers, unknown_key)",
    );
    const relayedName = "nexus_postgres_relayed_sessions_total";
    this.relayedSessions =
      (registry.getSingleMetric(relayedName) as Counter<"mover"> | undefined) ??
      new Counter({
        name: relayedName,
        help: "PostgreSQL sessions relayed after their startup, counted as they end, by what moved their bytes (kernel, process, or mixed: both did)",
        labelNames: ["mover"],
        registers,
      });
    const gaugeName = "nexus_postgres_open_connections";
    this.openConnections =
      (registry.getSingleMetric(gaugeName) as Gauge | undefined) ??
      new Gauge({
        name: gaugeName,
        help: "Client connections open to the PostgreSQL proxy",
        registers,
      });
  }
}
