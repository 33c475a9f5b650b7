// Runs the benchmark: for each system, its server in one process and, for
// each number in flight, a fresh client in another. The server's CPU time is
// read when the client's measured window opens and closes. Every child,
// socket and temporary file is removed on dispose, whether the run finished
// or failed.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ChildChannel } from "./child-channel.ts";
import type { ClientJob } from "./client-process.ts";
import { type LoadResult, perRequest } from "./load.ts";
import { assertSystemNames, loadSystem } from "./systems/index.ts";

const SERVER_SCRIPT = fileURLToPath(new URL("./server-process.ts", import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL("./client-process.ts", import.meta.url));
const START_TIMEOUT_MS = 30_000;
/** Beyond warm-up and duration, how long a client may take to connect and finish. */
const CLIENT_SLACK_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export interface BenchOptions {
  readonly systems: readonly string[];
  readonly inflights: readonly number[];
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Each case runs this many times, the systems interleaved; the best round is kept. */
  readonly rounds: number;
  /** When set, every child writes a V8 CPU profile here. */
  readonly cpuProfileDir?: string;
}

export interface Measurement extends LoadResult {
  readonly system: string;
  readonly label: string;
  readonly concurrency: string;
  readonly inflight: number;
  readonly round: number;
  /** CPU time of the server process per request, over the client's window. */
  readonly server_cpu_us: number;
}

export class RpcBenchmark implements AsyncDisposable {
  readonly #options: BenchOptions;
  readonly #children = new Set<ChildChannel>();
  #root: string | undefined;

  constructor(options: BenchOptions) {
    assertSystemNames(options.systems); // unknown names fail before any work
    this.#options = options;
  }

  /** Every measurement of every round, in the order taken. */
  async run(onMeasurement: (measurement: Measurement) => void = () => {}): Promise<Measurement[]> {
    this.#root ??= await mkdtemp(join(tmpdir(), "nexus-bench-rpc-"));
    const measurements: Measurement[] = [];
    for (let round = 1; round <= this.#options.rounds; round++) {
      for (const name of this.#options.systems) {
        for (const measurement of await this.#runSystem(name, round)) {
          measurements.push(measurement);
          onMeasurement(measurement);
        }
      }
    }
    return measurements;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const child of this.#children) child.kill();
    this.#children.clear();
    if (this.#root !== undefined) await rm(this.#root, { recursive: true, force: true });
  }

  async #runSystem(name: string, round: number): Promise<Measurement[]> {
    const system = await loadSystem(name);
    const dir = await mkdtemp(join(this.#root!, `${name}-`));
    const server = this.#spawn(SERVER_SCRIPT, [name, dir], `${name}-server-r${round}`, name);
    try {
      const { address } = await server.next<{ address: string }>(START_TIMEOUT_MS);
      const measurements: Measurement[] = [];
      for (const inflight of this.#options.inflights) {
        const { warmupMs, durationMs } = this.#options;
        const job: ClientJob = { system: name, address, inflight, warmupMs, durationMs };
        const client = this.#spawn(
          CLIENT_SCRIPT,
          [JSON.stringify(job)],
          `${name}-client-${inflight}-r${round}`,
          `${name} client (${inflight} in flight)`,
        );
        const budget = warmupMs + durationMs + CLIENT_SLACK_MS;
        await client.next(budget); // the window opens
        const cpuAtStart = await serverCpu(server);
        await client.next(budget); // the window closes
        const cpuAtEnd = await serverCpu(server);
        const result = await client.next<LoadResult>(budget);
        await client.stopped(STOP_TIMEOUT_MS);
        measurements.push({
          system: name,
          label: system.label,
          concurrency: inflight === 1 ? "one at a time" : system.concurrency,
          inflight,
          round,
          ...result,
          server_cpu_us: perRequest(cpuAtEnd - cpuAtStart, result.requests),
        });
      }
      return measurements;
    } finally {
      server.send("stop");
      await server.stopped(STOP_TIMEOUT_MS);
    }
  }

  #spawn(script: string, args: string[], profileName: string, what: string): ChildChannel {
    const profileDir = this.#options.cpuProfileDir;
    const execArgv =
      profileDir === undefined
        ? []
        : [
            "--cpu-prof",
            `--cpu-prof-dir=${profileDir}`,
            `--cpu-prof-name=${profileName}.cpuprofile`,
          ];
    const child = new ChildChannel(script, args, execArgv, `the ${what} process`);
    this.#children.add(child);
    return child;
  }
}

async function serverCpu(server: ChildChannel): Promise<number> {
  server.send("cpu");
  return (await server.next<{ cpu_us: number }>(STOP_TIMEOUT_MS)).cpu_us;
}
