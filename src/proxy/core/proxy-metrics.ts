// The proxy core's Prometheus metrics. They live in a registry of their own
// unless one is given, so that the runner decides where they are exposed;
// routers given the same registry share the same metrics.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BreakerState } from "./circuit-breaker.ts";
import { KernelSplice } from "./kernel-splice.ts";

const BREAKER_STATE_VALUE: Record<BreakerState, number> = { closed: 0, open: 1, half_open: 2 };

export class ProxyMetrics {
  readonly registry: Registry;
  readonly resolutions: Counter<"outcome">;
  readonly cacheLookups: Counter<"result">;
  /** Pre-labelled children for the per-route hot path (labelling by object costs a hash). */
  readonly cacheHits: Counter.Internal;
  readonly cacheMisses: Counter.Internal;
  readonly resolvedOk: Counter.Internal;
  readonly breakerState: Gauge<"backend">;
  readonly backendHealthy: Gauge<"backend">;
  readonly coldStarts: Counter<"outcome">;
  readonly coldStartWait: Histogram;
  readonly backendConnections: Gauge<"backend">;
  readonly connectErrors: Counter<"reason">;
  readonly splicedConnections: Gauge;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    const existing = <T>(name: string) => registry.getSingleMetric(name) as T | undefined;
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      existing<Counter<L>>(name) ?? new Counter({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
      existing<Gauge<L>>(name) ?? new Gauge({ name, help, labelNames, registers });

    this.resolutions = counter(
      "nexus_proxy_resolutions_total",
      "Resolver calls, by outcome (ok or the error code)",
      ["outcome"],
    );
    this.cacheLookups = counter(
      "nexus_proxy_route_cache_lookups_total",
      "Routing cache lookups, by result (hit or miss)",
      ["result"],
    );
    this.cacheHits = this.cacheLookups.labels("hit");
    this.cacheMisses = this.cacheLookups.labels("miss");
    this.resolvedOk = this.resolutions.labels("ok");
    this.breakerState = gauge(
      "nexus_proxy_breaker_state",
      "Circuit breaker state per backend: 0 closed, 1 open, 2 half-open",
      ["backend"],
    );
    this.backendHealthy = gauge(
      "nexus_proxy_backend_healthy",
      "Active health check verdict per backend: 1 up, 0 down",
      ["backend"],
    );
    this.coldStarts = counter(
      "nexus_proxy_cold_starts_total",
      "Connections that waited for a sleeping backend, by outcome (ready or the error reason)",
      ["outcome"],
    );
    this.coldStartWait =
      existing<Histogram>("nexus_proxy_cold_start_wait_seconds") ??
      new Histogram({
        name: "nexus_proxy_cold_start_wait_seconds",
        help: "How long connections waited for a sleeping backend",
        buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      });
    this.backendConnections = gauge(
      "nexus_proxy_backend_connections",
      "Open connections to each backend",
      ["backend"],
    );
    this.connectErrors = counter(
      "nexus_proxy_connect_errors_total",
      "Failed routings and backend connections, by reason",
      ["reason"],
    );
    this.splicedConnections =
      existing<Gauge>("nexus_proxy_spliced_connections") ??
      new Gauge({
        name: "nexus_proxy_spliced_connections",
        help: "Connections this process has handed to the kernel and not yet closed (kernel splicing)",
        registers,
        collect() {
          this.set(KernelSplice.openPairs);
        },
      });
  }

  setBreakerState(backend: string, state: BreakerState): void {
    this.breakerState.set({ backend }, BREAKER_STATE_VALUE[state]);
  }
}
