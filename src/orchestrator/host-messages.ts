// What the supervisor and a service host process say to each other over the
// fork IPC channel. Figures travel here, never on the request path.
import type { MetricObjectWithValues, MetricValue } from "prom-client";

export type HostReport =
  /** The socket listens at its final path. */
  | { readonly type: "ready" }
  /** The host could not start (entry module failed, socket taken …); it exits next. */
  | { readonly type: "failed"; readonly reason: string }
  | {
      readonly type: "figures";
      readonly inFlight: number;
      readonly memoryBytes: number;
      /** Share of one core used since the previous report, in percent. */
      readonly cpuPercent: number;
      /** The host's prom-client registry (requests, errors, latency histogram). */
      readonly metrics: readonly MetricObjectWithValues<MetricValue<string>>[];
    };

export type HostCommand =
  /** Stop accepting, finish calls in flight (at most `timeoutMs`), then exit 0. */
  { readonly type: "drain"; readonly timeoutMs: number };

/** How a host is told what to run, through its environment. */
export interface HostSettings {
  readonly service: string;
  readonly entry: string;
  readonly instance: number;
  readonly socketDir: string;
  readonly socketPath: string;
  readonly tokenFile?: string;
  /** `replace`: take over the socket path from a live predecessor (reload, wake-up). */
  readonly listen: "fresh" | "replace";
}

export const HOST_SETTINGS_ENV = "NEXUS_HOST_SETTINGS";

/** A host's exit code when its drain deadline passed and open connections were cut. */
export const EXIT_DRAIN_DEADLINE = 3;

export function isHostReport(value: unknown): value is HostReport {
  const type = (value as { type?: unknown } | null)?.type;
  return type === "ready" || type === "failed" || type === "figures";
}
