// Prometheus metrics of the HTTP proxy, per route (the Host key) and backend
// (the endpoint). Requests that never got a route are labelled route="".
// Routing cache, cold start and breaker figures are the core's (ProxyMetrics).
import { Counter, Gauge, type Registry } from "prom-client";
import { ResponseSeries } from "./response-series.ts";

export class HttpMetrics {
  readonly requests: Counter<"route" | "backend" | "status">;
  readonly errors: Counter<"route" | "backend" | "reason">;
  readonly retries: Counter<"route" | "backend">;
  /** Requests by status and their durations, counted cheaply; see response-series.ts. */
  readonly responses: ResponseSeries;
  readonly activeConnections: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const fill = (counter: Counter<"route" | "backend" | "status">) =>
      this.responses.fillRequests(counter);
    this.requests = new Counter({
      name: "nexus_http_requests_total",
      help: "HTTP requests answered, by route, backend and status code",
      labelNames: ["route", "backend", "status"],
      registers,
      collect() {
        fill(this);
      },
    });
    this.errors = new Counter({
      name: "nexus_http_errors_total",
      help: "HTTP requests the proxy answered with an error of its own, by reason",
      labelNames: ["route", "backend", "reason"],
      registers,
    });
    this.retries = new Counter({
      name: "nexus_http_retries_total",
      help: "Requests sent a second time, on a new connection, after the backend closed the first before answering",
      labelNames: ["route", "backend"],
      registers,
    });
    this.responses = new ResponseSeries({
      name: "nexus_http_request_duration_seconds",
      help: "Time from request arrival to the end of the response",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registry,
      requests: this.requests,
    });
    this.activeConnections = new Gauge({
      name: "nexus_http_active_connections",
      help: "Client connections open to the HTTP proxy",
      registers,
    });
  }
}
