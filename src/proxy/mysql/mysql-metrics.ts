// Prometheus metrics of the MySQL proxy: how handshakes end, how many
// client connections are open, and what relayed each session. Routing, cache, cold start and backend
// connection figures are the core's (ProxyMetrics), in the same registry by
// default. Proxies given the same registry share these metrics.
import { Counter, Gauge, type Registry } from "prom-client";

export class MysqlMetrics {
  /**
   * Handshakes by outcome: "authenticated", "denied" (the backend refused
   * the credentials), "closed" (the client left first), or the code of the
   * ERR packet the client got from the proxy ("1049", "1046", "2003" …).
   */
  readonly handshakes: Counter<"outcome">;
  readonly openConnections: Gauge;
  /** Sessions relayed after authentication, by what moved the backend's bytes: "kernel" or "process". */
  readonly relayedSessions: Counter<"mover">;

  constructor(registry: Registry) {
    const registers = [registry];
    const counter = <Label extends string>(name: string, help: string, label: Label) =>
      (registry.getSingleMetric(name) as Counter<Label> | undefined) ??
      new Counter({ name, help, labelNames: [label], registers });
    this.handshakes = counter(
      "nexus_mysql_handshakes_total",
      "MySQL handshakes, by outcome (authenticated, denied, closed or the ERR code sent)",
      "outcome",
    );
    this.openConnections =
      (registry.getSingleMetric("nexus_mysql_open_connections") as Gauge) ??
      new Gauge({
        name: "nexus_mysql_open_connections",
        help: "Client connections open to the MySQL proxy",
        registers,
      });
    this.relayedSessions = counter(
      "nexus_mysql_relayed_sessions_total",
      "MySQL sessions relayed after authentication, counted as they end, by what moved their bytes (kernel, process, or mixed: both did, as when a session sent a KILL)",
      "mover",
    );
  }
}
