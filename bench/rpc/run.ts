// `npm run bench:rpc`: requests/s and p50/p99 latency of a raw Unix-socket
// echo (the limit), Nexus framed RPC, JSON lines and HTTP, Moleculer and
// grpc-js, with 1 and 64 requests in flight, each server and client in its
// own process. Writes bench/results/rpc.json and the tables of
// docs/benchmarks-rpc.md (between its result markers).
//
//   node bench/rpc/run.ts [--systems raw-echo,nexus-rpc] [--inflight 1,64]
//     [--warmup 2] [--duration 5] [--rounds 3] [--out FILE] [--doc FILE]
//     [--skip-doc] [--cpu-prof DIR]
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { type BenchOptions, RpcBenchmark } from "./harness.ts";
import { bestOfRounds, machineInfo, markdownSection, type RpcResults } from "./report.ts";
import { REQUEST } from "./system.ts";
import { SYSTEM_NAMES } from "./systems/index.ts";

const START_MARKER = "<!-- bench:rpc results start -->";
const END_MARKER = "<!-- bench:rpc results end -->";

const { values } = parseArgs({
  options: {
    systems: { type: "string", default: SYSTEM_NAMES.join(",") },
    inflight: { type: "string", default: "1,64" },
    warmup: { type: "string", default: "2" },
    duration: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    out: { type: "string", default: "bench/results/rpc.json" },
    doc: { type: "string", default: "docs/benchmarks-rpc.md" },
    "skip-doc": { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
  },
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!(value > 0)) throw new Error(`--${name} must be a positive number, not "${text}"`);
  return value;
}

const options: BenchOptions = {
  systems: values.systems.split(",").filter((name) => name.length > 0),
  inflights: values.inflight.split(",").map((text) => Math.round(positive("inflight", text))),
  warmupMs: positive("warmup", values.warmup) * 1000,
  durationMs: positive("duration", values.duration) * 1000,
  rounds: Math.round(positive("rounds", values.rounds)),
  ...(values["cpu-prof"] === undefined ? {} : { cpuProfileDir: resolve(values["cpu-prof"]) }),
};

async function writeDocSection(path: string, section: string): Promise<void> {
  const doc = await readFile(path, "utf8");
  const start = doc.indexOf(START_MARKER);
  const end = doc.indexOf(END_MARKER);
  if (start === -1 || end < start) {
    throw new Error(`${path} lacks the markers ${START_MARKER} … ${END_MARKER}`);
  }
  const updated = `${doc.slice(0, start + START_MARKER.length)}\n${section}\n${doc.slice(end)}`;
  await writeFile(path, updated);
}

const benchmark = new RpcBenchmark(options);
// Ctrl-C or a kill: stop every child and remove the sockets before leaving.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void benchmark[Symbol.asyncDispose]().finally(() => process.exit(130));
  });
}

try {
  const before = machineInfo();
  const rounds = await benchmark.run((m) =>
    console.error(
      `round ${m.round}  ${m.system.padEnd(17)} ${String(m.inflight).padStart(3)} in flight  ` +
        `${String(m.rps).padStart(7)} req/s  p50 ${m.p50_us} µs  p99 ${m.p99_us} µs`,
    ),
  );
  const results: RpcResults = {
    benchmark: "rpc",
    date: new Date().toISOString(),
    machine: { before, after: machineInfo() },
    settings: {
      ...options,
      request: REQUEST,
      note: "each server and client in its own process; results are the best round by req/s",
    },
    results: bestOfRounds(rounds),
    rounds,
  };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, `${JSON.stringify(results, null, 2)}\n`);
  const section = markdownSection(results);
  if (!values["skip-doc"]) await writeDocSection(values.doc, section);
  console.log(section);
} finally {
  await benchmark[Symbol.asyncDispose]();
}
