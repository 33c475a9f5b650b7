// A closed-loop load: `inflight` callers each send a request, wait for its
// reply and send the next. After a warm-up, every reply completed during the
// measured window counts, each request's latency (hrtime, nanoseconds) goes
// into a histogram, and the process's CPU time over the window is divided
// among the requests.
import { createHistogram } from "node:perf_hooks";

export interface LoadOptions {
  readonly inflight: number;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50_us: number;
  readonly p99_us: number;
  /** CPU time (user + system) of this process per request, over the window. */
  readonly client_cpu_us: number;
}

/** Called when the measured window opens and when it closes. */
export type WindowListener = (edge: "start" | "end") => void;

export async function runLoad(
  call: () => Promise<unknown>,
  options: LoadOptions,
  onWindow: WindowListener = () => {},
): Promise<LoadResult> {
  const histogram = createHistogram();
  let measuring = false;
  let running = true;
  let requests = 0;

  const caller = async (): Promise<void> => {
    while (running) {
      const start = process.hrtime.bigint();
      await call();
      if (measuring) {
        histogram.record(Number(process.hrtime.bigint() - start));
        requests++;
      }
    }
  };

  let windowStart = 0n;
  let windowEnd = 0n;
  let cpu = process.cpuUsage();
  const warmup = setTimeout(() => {
    measuring = true;
    windowStart = process.hrtime.bigint();
    cpu = process.cpuUsage();
    onWindow("start");
  }, options.warmupMs);
  const stop = setTimeout(() => {
    running = false;
    measuring = false;
    windowEnd = process.hrtime.bigint();
    cpu = process.cpuUsage(cpu);
    onWindow("end");
  }, options.warmupMs + options.durationMs);
  try {
    await Promise.all(Array.from({ length: options.inflight }, caller));
  } finally {
    // A failed call ends the run: stop the others and the timers.
    running = false;
    clearTimeout(warmup);
    clearTimeout(stop);
  }
  const seconds = Number(windowEnd - windowStart) / 1e9;
  return {
    requests,
    seconds,
    rps: Math.round(requests / seconds),
    p50_us: microseconds(histogram.percentile(50)),
    p99_us: microseconds(histogram.percentile(99)),
    client_cpu_us: perRequest(cpu.user + cpu.system, requests),
  };
}

function microseconds(nanoseconds: number): number {
  return Math.round(nanoseconds / 100) / 10;
}

/** Microseconds of CPU per request, to a tenth. */
export function perRequest(cpuMicros: number, requests: number): number {
  return requests === 0 ? 0 : Math.round((cpuMicros / requests) * 10) / 10;
}
