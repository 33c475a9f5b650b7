// Prometheus exposition for /metrics: the instances' request figures (merged
// per service by prom-client's aggregator, as its cluster mode does) plus
// the supervisor's own view of each service: up, instances, restarts.
import { AggregatorRegistry, Gauge, Registry } from "prom-client";
import type { ServiceSupervisor } from "./service-supervisor.ts";

export class PrometheusMetrics {
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  readonly #supervisors: readonly ServiceSupervisor[];
  readonly #own = new Registry();

  constructor(supervisors: readonly ServiceSupervisor[]) {
    this.#supervisors = supervisors;
    const labelNames = ["service"] as const;
    const registers = [this.#own];
    const each = (gauge: Gauge<"service">, value: (s: ServiceSupervisor) => number) => {
      for (const supervisor of this.#supervisors) {
        gauge.set({ service: supervisor.name }, value(supervisor));
      }
    };
    new Gauge({
      name: "nexus_service_up",
      help: "1 when the service is running (or asleep, ready to wake), else 0",
      labelNames,
      registers,
      collect() {
        each(this, (s) => (["running", "reloading", "sleeping"].includes(s.status) ? 1 : 0));
      },
    });
    new Gauge({
      name: "nexus_service_instances_ready",
      help: "Instances listening",
      labelNames,
      registers,
      collect() {
        each(this, (s) => s.readySockets.length);
      },
    });
    // A gauge, not a counter: the figure is owned by the supervisor and only read here.
    new Gauge({
      name: "nexus_service_restarts",
      help: "Restarts since the orchestrator started",
      labelNames,
      registers,
      collect() {
        each(this, (s) => s.snapshot().restarts);
      },
    });
  }

  async text(): Promise<string> {
    const instances = this.#supervisors.flatMap((s) => s.metrics).map((m) => [...m]);
    const merged = AggregatorRegistry.aggregate(instances);
    const parts = [await merged.metrics(), await this.#own.metrics()];
    return `${parts
      .map((p) => p.trim())
      .filter(Boolean)
      .join("\n\n")}\n`;
  }
}
