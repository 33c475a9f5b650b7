// The answered requests of each route and backend, counted on the request
// path in plain numbers (by status, and in duration buckets) and turned into
// Prometheus samples only when scraped. prom-client's own Counter and
// Histogram validate and hash their labels on every update, a measurable
// share of the CPU a proxied request costs.
import type { Counter, Registry } from "prom-client";

/** A sample as prom-client's registry formats it. */
interface Sample {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

interface Series {
  readonly route: string;
  readonly backend: string;
  readonly byStatus: Map<number, number>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

export interface ResponseSeriesOptions {
  /** The histogram's name and help; its labels are route and backend. */
  readonly name: string;
  readonly help: string;
  /** Upper bounds of the duration buckets, in seconds, ascending. */
  readonly buckets: readonly number[];
  readonly registry: Registry;
  /** The counter of requests by route, backend and status, filled from these counts when read. */
  readonly requests: Counter<"route" | "backend" | "status">;
}

export class ResponseSeries {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  /** How the cluster's registry merges workers' samples. */
  readonly aggregator = "sum";
  readonly #bounds: readonly number[];
  readonly #series = new Map<string, Series>();

  constructor(options: ResponseSeriesOptions) {
    this.name = options.name;
    this.help = options.help;
    this.#bounds = options.buckets;
    // The registry only calls get() and reset(), which this class has.
    options.registry.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** One answered request. */
  record(route: string, backend: string, status: number, seconds: number): void {
    const key = `${route} ${backend}`;
    let series = this.#series.get(key);
    if (!series) {
      series = {
        route,
        backend,
        byStatus: new Map(),
        buckets: new Array<number>(this.#bounds.length + 1).fill(0),
        sum: 0,
        count: 0,
      };
      this.#series.set(key, series);
    }
    series.byStatus.set(status, (series.byStatus.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < this.#bounds.length && seconds > (this.#bounds[bucket] as number)) bucket++;
    series.buckets[bucket] = (series.buckets[bucket] as number) + 1;
    series.sum += seconds;
    series.count += 1;
  }

  /** Writes the counts into the requests counter (called by its collect hook). */
  fillRequests(counter: Counter<"route" | "backend" | "status">): void {
    counter.reset();
    for (const { route, backend, byStatus } of this.#series.values()) {
      for (const [status, count] of byStatus) counter.inc({ route, backend, status }, count);
    }
  }

  /** The duration histogram in the shape prom-client's registry reads. */
  async get() {
    const values: Sample[] = [];
    for (const { route, backend, buckets, sum, count } of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += buckets[i] as number;
        values.push({
          metricName: `${this.name}_bucket`,
          labels: { route, backend, le: this.#bounds[i] as number },
          value: cumulative,
        });
      }
      const labels = { route, backend };
      values.push(
        { metricName: `${this.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: count },
        { metricName: `${this.name}_sum`, labels, value: sum },
        { metricName: `${this.name}_count`, labels, value: count },
      );
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    this.#series.clear();
  }
}
