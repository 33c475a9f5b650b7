// `npm run bench:coldstart`: time to first byte of a request that wakes a
// sleeping service through the proxy, against the service's own boot
// measured alone (fork, import, listen, first response over its socket).
// Runs alternate between the two so that both see the same machine load;
// the overhead is what the orchestrator and the proxy add. Writes
// bench/results/coldstart.json and the table in docs/one-system.md.
//
//   node bench/coldstart/run.ts [--runs 20]
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "undici";
import { parseConfig } from "../../src/orchestrator/config-file.ts";
import { Orchestrator } from "../../src/orchestrator/orchestrator.ts";
import { machine, markdownTable, updateDocTable, writeResults } from "../support/report.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "20" } } });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer`);

const service = fileURLToPath(new URL("./service.ts", import.meta.url));
const bootAlone = fileURLToPath(new URL("./boot-alone.ts", import.meta.url));
const HOST = "greeter.localhost";
const TARGET_OVERHEAD_MS = 100;

interface FirstByte {
  /** From `started` until the response head arrived. */
  readonly ms: number;
  /** What the proxy says it waited for the wake-up (x-nexus-cold-start-ms), 0 if absent. */
  readonly proxyWaitMs: number;
}

/** GET /hello on `client`, timed from `started` to its response head. */
async function firstByte(client: Client, started: number, host: string): Promise<FirstByte> {
  const response = await client.request({ method: "GET", path: "/hello", headers: { host } });
  const ms = performance.now() - started;
  const body = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}: ${body}`);
  return { ms, proxyWaitMs: Number(response.headers["x-nexus-cold-start-ms"] ?? 0) };
}

/** Fork the service alone, wait for its ready report, and time its first response. */
async function alone(dir: string): Promise<number> {
  const socketPath = join(dir, "alone.sock");
  const started = performance.now();
  const child = fork(bootAlone, [socketPath], { execArgv: [], stdio: "ignore" });
  try {
    const [message] = (await once(child, "message")) as [{ type?: string }];
    if (message.type !== "ready") throw new Error("the service did not start alone");
    const client = new Client("http://greeter", { socketPath });
    try {
      return (await firstByte(client, started, "greeter")).ms;
    } finally {
      await client.close();
    }
  } finally {
    const exited = once(child, "exit");
    child.disconnect();
    await exited;
  }
}

const dir = await mkdtemp(join(tmpdir(), "nexus-coldstart-"));
const config = parseConfig(
  {
    socketDir: join(dir, "sockets"),
    logs: { dir: join(dir, "logs") },
    // A short stop deadline: putting the service back to sleep between runs is not measured.
    proxy: { listeners: [{ host: "127.0.0.1", port: 0 }] },
    services: { greeter: { entry: service, onDemand: { idleMs: 3_600_000 }, stopTimeoutMs: 500 } },
  },
  join(dir, "nexus.config.ts"),
);
const orchestrator = new Orchestrator(config);
const supervisor = orchestrator.supervisors.get("greeter")!;

/** Time to first byte through the proxy for a request that finds the service asleep. */
async function proxied(url: string): Promise<FirstByte> {
  if (supervisor.status !== "sleeping") throw new Error(`greeter is ${supervisor.status}`);
  const client = new Client(url);
  try {
    return await firstByte(client, performance.now(), HOST);
  } finally {
    await client.close();
  }
}

/** Back to sleep, and the proxy forgets the awake answer it cached. */
async function putToSleep(): Promise<void> {
  await supervisor.stop();
  await supervisor.start();
  orchestrator.proxy?.router.invalidate(HOST);
}

interface Sample {
  readonly alone_ms: number;
  readonly proxied_ms: number;
  readonly proxy_wait_ms: number;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, index)]! * 10) / 10;
}

function summary(values: readonly number[]) {
  return { median: percentile(values, 50), p90: percentile(values, 90) };
}

const samples: Sample[] = [];
try {
  await orchestrator.start();
  const url = orchestrator.info().proxy[0]!;
  // One unmeasured round of each warms the file system cache and the module loader.
  await alone(dir);
  await proxied(url);
  await putToSleep();
  for (let run = 1; run <= runs; run += 1) {
    const aloneMs = await alone(dir);
    const { ms, proxyWaitMs } = await proxied(url);
    await putToSleep();
    samples.push({ alone_ms: aloneMs, proxied_ms: ms, proxy_wait_ms: proxyWaitMs });
    console.log(
      `run ${String(run).padStart(2)}  alone ${aloneMs.toFixed(1).padStart(6)} ms  ` +
        `through the proxy ${ms.toFixed(1).padStart(6)} ms  overhead ${(ms - aloneMs).toFixed(1)} ms`,
    );
  }
} finally {
  await orchestrator.stop();
  await rm(dir, { recursive: true, force: true });
}

const aloneMs = summary(samples.map((s) => s.alone_ms));
const proxiedMs = summary(samples.map((s) => s.proxied_ms));
const overheadMs = summary(samples.map((s) => s.proxied_ms - s.alone_ms));
const results = {
  benchmark: "cold start: time to first byte of a request that wakes a sleeping service",
  date: new Date().toISOString(),
  machine: machine(),
  /** The machine's 1-minute load average when the runs ended: a noisy machine widens the spread. */
  load_average: Math.round(loadavg()[0]! * 10) / 10,
  note:
    "alone = fork the service, import, listen, first response over its socket; proxied = " +
    "the same service asleep behind the orchestrator, first response through the HTTP proxy; " +
    "overhead = proxied - alone per run (runs alternate)",
  runs,
  alone_ms: aloneMs,
  proxied_ms: proxiedMs,
  overhead_ms: overheadMs,
  target_overhead_ms_median: TARGET_OVERHEAD_MS,
  samples: samples.map((s) => ({
    alone_ms: Math.round(s.alone_ms * 10) / 10,
    proxied_ms: Math.round(s.proxied_ms * 10) / 10,
    proxy_wait_ms: s.proxy_wait_ms,
  })),
};
await writeResults("coldstart", results);
const row = (name: string, s: { median: number; p90: number }) => [
  name,
  `${s.median} ms`,
  `${s.p90} ms`,
];
await updateDocTable(
  "docs/one-system.md",
  "coldstart",
  `${markdownTable(
    ["", "median", "p90"],
    [
      row("service boot alone (fork → first byte)", aloneMs),
      row("woken through proxy + orchestrator", proxiedMs),
      row("**overhead** (target ≤ 100 ms median)", overheadMs),
    ],
  )}\n\n${runs} runs, ${results.machine.cpus} CPUs (${results.machine.model}), Node ${results.machine.node}, load average ${results.load_average}, ${results.date.slice(0, 10)}.`,
);
console.log(
  `overhead: median ${overheadMs.median} ms, p90 ${overheadMs.p90} ms (target ≤ ${TARGET_OVERHEAD_MS} ms median)`,
);
