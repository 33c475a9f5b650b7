// A closed-loop load: `inflight` callers each send a request, wait for its
// reply and send the next. After a warm-up, every reply completed during the
// measured window counts, and each request's latency (hrtime, nanoseconds)
// goes into a histogram.
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
}

export async function runLoad(
  call: () => Promise<unknown>,
  options: LoadOptions,
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
  const warmup = setTimeout(() => {
    measuring = true;
    windowStart = process.hrtime.bigint();
  }, options.warmupMs);
  const stop = setTimeout(() => {
    running = false;
    measuring = false;
    windowEnd = process.hrtime.bigint();
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
  };
}

function microseconds(nanoseconds: number): number {
  return Math.round(nanoseconds / 100) / 10;
}
