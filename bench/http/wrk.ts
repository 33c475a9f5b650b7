// Runs wrk against a URL and reads its summary: requests per second and the
// latency percentiles of `--latency`, in microseconds.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface LoadSettings {
  readonly threads: number;
  readonly connections: number;
  readonly seconds: number;
  readonly host: string;
}

export interface LoadResult {
  readonly rps: number;
  /** Requests completed in the run. */
  readonly requests: number;
  readonly p50_us: number;
  readonly p99_us: number;
  /** Non-2xx answers plus socket errors. */
  readonly errors: number;
}

const UNIT_US: Record<string, number> = { us: 1, ms: 1000, s: 1_000_000 };

function micros(text: string, label: string): number {
  const match = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)\\b`).exec(text);
  if (!match?.[1] || !match[2]) throw new Error(`wrk output lacks ${label}:\n${text}`);
  return Math.round(Number(match[1]) * (UNIT_US[match[2]] ?? Number.NaN));
}

export async function wrk(url: string, settings: LoadSettings): Promise<LoadResult> {
  const { stdout } = await run("wrk", [
    "--latency",
    ...["-t", String(settings.threads), "-c", String(settings.connections)],
    ...["-d", `${settings.seconds}s`, "-H", `Host: ${settings.host}`],
    url,
  ]);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1];
  const requests = /(\d+) requests in /.exec(stdout)?.[1];
  if (rps === undefined || requests === undefined) {
    throw new Error(`wrk output lacks Requests/sec:\n${stdout}`);
  }
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(
    stdout,
  );
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    rps: Math.round(Number(rps)),
    requests: Number(requests),
    p50_us: micros(stdout, "50%"),
    p99_us: micros(stdout, "99%"),
    errors: non2xx + socketErrors,
  };
}
