// Per-request figures of one service process, kept in a prom-client registry
// inside the service host and sent to the supervisor as JSON. The supervisor
// merges the instances' registries for /metrics and summarizes them (count,
// errors, average, p99) for `nexus status`.
import {
  Counter,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  type MetricValueWithName,
  Registry,
} from "prom-client";

export type MetricsJson = readonly MetricObjectWithValues<MetricValue<string>>[];

const names = {
  requests: "nexus_requests_total",
  errors: "nexus_request_errors_total",
  duration: "nexus_request_duration_seconds",
} as const;

/** Seconds; from 100 µs (a call over a Unix socket) to 10 s. */
const durationBuckets = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Lives in the service host: one per process. */
export class RequestMetrics {
  readonly registry = new Registry();
  readonly #labels: { service: string };
  readonly #requests: Counter<"service">;
  readonly #errors: Counter<"service">;
  readonly #duration: Histogram<"service">;

  constructor(service: string) {
    this.#labels = { service };
    const registers = [this.registry];
    const labelNames = ["service"] as const;
    this.#requests = new Counter({
      name: names.requests,
      help: "Requests answered",
      labelNames,
      registers,
    });
    this.#errors = new Counter({
      name: names.errors,
      help: "Requests answered with an error",
      labelNames,
      registers,
    });
    this.#duration = new Histogram({
      name: names.duration,
      help: "Time to answer a request",
      labelNames,
      buckets: durationBuckets,
      registers,
    });
    // Present from the start, so /metrics shows 0 rather than nothing.
    this.#requests.inc(this.#labels, 0);
    this.#errors.inc(this.#labels, 0);
  }

  /** Called once per answered request (success or error), off the hot path's allocations. */
  record(durationMs: number, failed: boolean): void {
    this.#requests.inc(this.#labels);
    if (failed) this.#errors.inc(this.#labels);
    this.#duration.observe(this.#labels, durationMs / 1000);
  }
}
export interface RequestSummary {
  readonly requests: number;
  readonly errors: number;
  /** Undefined while there were no requests. */
  readonly averageMs: number | undefined;
  /** Upper bound of the histogram bucket holding the 99th percentile. */
  readonly p99Ms: number | undefined;
}

/** Sums the figures of several instances' registries. */
export function summarizeRequests(sets: readonly MetricsJson[]): RequestSummary {
  let requests = 0;
  let errors = 0;
  let sumSeconds = 0;
  let count = 0;
  const buckets = new Map<number, number>();
  for (const metric of sets.flat()) {
    // Histograms name each sample (`_bucket`, `_sum`, `_count`).
    for (const sample of metric.values as readonly MetricValueWithName<string>[]) {
      const value = sample.value;
      if (metric.name === names.requests) requests += value;
      else if (metric.name === names.errors) errors += value;
      else if (sample.metricName === `${names.duration}_sum`) sumSeconds += value;
      else if (sample.metricName === `${names.duration}_count`) count += value;
      else if (sample.metricName === `${names.duration}_bucket` && sample.labels.le !== "+Inf") {
        const le = Number(sample.labels.le);
        buckets.set(le, (buckets.get(le) ?? 0) + value);
      }
    }
  }
  if (count === 0) return { requests, errors, averageMs: undefined, p99Ms: undefined };
  const bounds = [...buckets].sort(([a], [b]) => a - b);
  const p99 =
    bounds.find(([, cumulative]) => cumulative >= count * 0.99)?.[0] ?? bounds.at(-1)?.[0];
  return {
    requests,
    errors,
    averageMs: (sumSeconds / count) * 1000,
    p99Ms: p99 === undefined ? undefined : p99 * 1000,
  };
}
