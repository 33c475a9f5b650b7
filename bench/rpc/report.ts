// Turns measurements into bench/results/rpc.json and the Markdown tables of
// docs/benchmarks-rpc.md: figures, ratios to the raw echo, to Moleculer and
// to grpc-js, and the targets for Nexus framed RPC.
import { cpus, freemem, loadavg, release, totalmem } from "node:os";
import type { BenchOptions, Measurement } from "./harness.ts";

export interface ResultEntry {
  readonly system: string;
  readonly label: string;
  readonly concurrency: string;
  readonly inflight: number;
  readonly rps: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly client_cpu_us: number;
  readonly server_cpu_us: number;
}

export interface Machine {
  readonly cpus: number;
  readonly model: string;
  readonly memory_mib: number;
  readonly free_memory_mib: number;
  readonly kernel: string;
  readonly node: string;
  /** 1, 5 and 15 minute load averages. */
  readonly load_average: readonly number[];
}

export interface RpcResults {
  readonly benchmark: "rpc";
  readonly date: string;
  readonly machine: { readonly before: Machine; readonly after: Machine };
  readonly settings: BenchOptions & { readonly request: unknown; readonly note: string };
  readonly results: readonly ResultEntry[];
  readonly rounds: readonly Measurement[];
}

export function machineInfo(): Machine {
  return {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? "unknown",
    memory_mib: Math.round(totalmem() / 2 ** 20),
    free_memory_mib: Math.round(freemem() / 2 ** 20),
    kernel: release(),
    node: process.version,
    load_average: loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

/** The best round (highest req/s) of each system and number in flight, in table order. */
export function bestOfRounds(measurements: readonly Measurement[]): ResultEntry[] {
  const best = new Map<string, Measurement>();
  for (const measurement of measurements) {
    const key = `${measurement.system}/${measurement.inflight}`;
    const kept = best.get(key);
    if (kept === undefined || measurement.rps > kept.rps) best.set(key, measurement);
  }
  return [...best.values()].map((m) => ({
    system: m.system,
    label: m.label,
    concurrency: m.concurrency,
    inflight: m.inflight,
    rps: m.rps,
    p50_us: m.p50_us,
    p99_us: m.p99_us,
    client_cpu_us: m.client_cpu_us,
    server_cpu_us: m.server_cpu_us,
  }));
}

function find(results: readonly ResultEntry[], system: string, inflight: number) {
  return results.find((entry) => entry.system === system && entry.inflight === inflight);
}

function ratio(value: number | undefined, reference: number | undefined): string {
  if (value === undefined || reference === undefined || reference === 0) return "–";
  return `${(value / reference).toFixed(2)}×`;
}

function thousands(value: number): string {
  return value.toLocaleString("en-US");
}

/** The figures with ratios: req/s against each reference, p50 against the raw echo. */
export function resultsTable(results: readonly ResultEntry[]): string {
  const lines = [
    "| system | in flight | how | req/s | p50 µs | p99 µs | CPU µs/req client + server | req/s ÷ raw echo | req/s ÷ Moleculer | req/s ÷ grpc-js | p50 ÷ raw echo |",
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const entry of results) {
    const raw = find(results, "raw-echo", entry.inflight);
    const moleculer = find(results, "moleculer", entry.inflight);
    const grpc = find(results, "grpc", entry.inflight);
    lines.push(
      `| ${entry.label} | ${entry.inflight} | ${entry.concurrency} | ${thousands(entry.rps)} | ` +
        `${entry.p50_us} | ${entry.p99_us} | ${entry.client_cpu_us} + ${entry.server_cpu_us} | ` +
        `${ratio(entry.rps, raw?.rps)} | ` +
        `${ratio(entry.rps, moleculer?.rps)} | ${ratio(entry.rps, grpc?.rps)} | ` +
        `${ratio(entry.p50_us, raw?.p50_us)} |`,
    );
  }
  return lines.join("\n");
}

interface Target {
  readonly name: string;
  readonly goal: string;
  /** The measured value, or undefined when a system it needs was not run. */
  readonly measured: number | undefined;
  readonly unit: string;
  readonly met: (measured: number) => boolean;
  /** How far off a missed target is, in words. */
  readonly shortfall: (measured: number) => string;
}

function targets(results: readonly ResultEntry[]): Target[] {
  const serial = find(results, "nexus-rpc", 1);
  const rawSerial = find(results, "raw-echo", 1);
  const at64 = find(results, "nexus-rpc", 64);
  const moleculer64 = find(results, "moleculer", 64);
  const grpc64 = find(results, "grpc", 64);
  const divide = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : a / b;
  const atLeast = (goal: number) => (measured: number) => measured >= goal;
  const missingPercent = (goal: number) => (measured: number) =>
    `${Math.round((1 - measured / goal) * 100)} % short`;
  return [
    {
      name: "serial p50 ÷ raw echo p50",
      goal: "≤ 1.30×",
      measured: divide(serial?.p50_us, rawSerial?.p50_us),
      unit: "×",
      met: (measured) => measured <= 1.3,
      shortfall: (measured) => `${Math.round((measured / 1.3 - 1) * 100)} % over`,
    },
    {
      name: "req/s, 64 in flight on one connection",
      goal: "≥ 150,000",
      measured: at64?.rps,
      unit: "",
      met: atLeast(150_000),
      shortfall: missingPercent(150_000),
    },
    {
      name: "req/s ÷ Moleculer, 64 in flight",
      goal: "≥ 5×",
      measured: divide(at64?.rps, moleculer64?.rps),
      unit: "×",
      met: atLeast(5),
      shortfall: missingPercent(5),
    },
    {
      name: "req/s ÷ grpc-js, 64 in flight",
      goal: "≥ 3×",
      measured: divide(at64?.rps, grpc64?.rps),
      unit: "×",
      met: atLeast(3),
      shortfall: missingPercent(3),
    },
  ];
}

/** The targets for Nexus framed RPC, each met or missed and by how much. */
export function targetsTable(results: readonly ResultEntry[]): string {
  const lines = ["| target (Nexus framed RPC) | goal | measured | verdict |", "|---|---|---:|---|"];
  for (const target of targets(results)) {
    const { measured } = target;
    const shown =
      measured === undefined
        ? "not measured"
        : target.unit === "×"
          ? `${measured.toFixed(2)}×`
          : thousands(Math.round(measured));
    const verdict =
      measured === undefined
        ? "–"
        : target.met(measured)
          ? "met"
          : `**missed** (${target.shortfall(measured)})`;
    lines.push(`| ${target.name} | ${target.goal} | ${shown} | ${verdict} |`);
  }
  return lines.join("\n");
}

/** The section run.ts writes between the markers of the doc. */
export function markdownSection(results: RpcResults): string {
  const { before, after } = results.machine;
  const { warmupMs, durationMs, rounds } = results.settings;
  return [
    `Run of ${results.date.slice(0, 16).replace("T", " ")} UTC on ${before.cpus} × ${before.model}, ` +
      `Node ${before.node}, Linux ${before.kernel}; ${warmupMs / 1000} s warm-up and ` +
      `${durationMs / 1000} s measured per case, best of ${rounds} round(s) by req/s. ` +
      `Load average (1 min) ${before.load_average[0]} before, ${after.load_average[0]} after.`,
    "",
    resultsTable(results.results),
    "",
    targetsTable(results.results),
  ].join("\n");
}
