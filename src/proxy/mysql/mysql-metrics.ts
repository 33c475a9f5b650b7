// Prometheus metrics of the MySQL proxy: how handshakes end and how many
// client connections are open. Routing, cache, cold start and backend
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

  constructor(registry: Registry) {
    const registers = [registry];
    this.handshakes =
      (registry.getSingleMetric("nexus_mysql_handshakes_total") as Counter<"outcome">) ??
      new Counter({
        name: "nexus_mysql_handshakes_total",
        help: "MySQL handshakes, by outcome (authenticated, denied, closed or the ERR code sent)",
        labelNames: ["outcome"],
        registers,
      });
    this.openConnections =
      (registry.getSingleMetric("nexus_mysql_open_connections") as Gauge) ??
      new Gauge({
        name: "nexus_mysql_open_connections",
        help: "Client connections open to the MySQL proxy",
        registers,
      });
  }
}
