// Runs the benchmark: for each system, its server in one process and, for
// each number in flight, a fresh client in another. Every child, socket and
// temporary file is removed on dispose, whether the run finished or failed.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ClientJob } from "./client-process.ts";
import type { LoadResult } from "./load.ts";
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
}

export class RpcBenchmark implements AsyncDisposable {
  readonly #options: BenchOptions;
  readonly #children = new Set<ChildProcess>();
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
    for (const child of this.#children) child.kill("SIGKILL");
    this.#children.clear();
    if (this.#root !== undefined) await rm(this.#root, { recursive: true, force: true });
  }

  async #runSystem(name: string, round: number): Promise<Measurement[]> {
    const system = await loadSystem(name);
    const dir = await mkdtemp(join(this.#root!, `${name}-`));
    const server = this.#fork(SERVER_SCRIPT, [name, dir], `${name}-server-r${round}`);
    try {
      const { address } = await firstMessage<{ address: string }>(
        server,
        `the ${name} server`,
        START_TIMEOUT_MS,
      );
      const measurements: Measurement[] = [];
      for (const inflight of this.#options.inflights) {
        const { warmupMs, durationMs } = this.#options;
        const job: ClientJob = { system: name, address, inflight, warmupMs, durationMs };
        const client = this.#fork(
          CLIENT_SCRIPT,
          [JSON.stringify(job)],
          `${name}-client-${inflight}-r${round}`,
        );
        const result = await firstMessage<LoadResult>(
          client,
          `the ${name} client (${inflight} in flight)`,
          warmupMs + durationMs + CLIENT_SLACK_MS,
        );
        await exited(client, STOP_TIMEOUT_MS);
        measurements.push({
          system: name,
          label: system.label,
          concurrency: inflight === 1 ? "one at a time" : system.concurrency,
          inflight,
          round,
          ...result,
        });
      }
      return measurements;
    } finally {
      if (server.connected) server.send("stop");
      await exited(server, STOP_TIMEOUT_MS);
    }
  }

  #fork(script: string, args: string[], profileName: string): ChildProcess {
    const profileDir = this.#options.cpuProfileDir;
    const execArgv =
      profileDir === undefined
        ? []
        : [
            "--cpu-prof",
            `--cpu-prof-dir=${profileDir}`,
            `--cpu-prof-name=${profileName}.cpuprofile`,
          ];
    const child = fork(script, args, {
      execPath: process.execPath,
      execArgv,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    return child;
  }
}

/** The child's first IPC message; rejects if it exits, fails or stays silent first. */
function firstMessage<T>(child: ChildProcess, what: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${what} sent nothing within ${timeoutMs} ms`));
    }, timeoutMs);
    const settle = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      child.off("error", onError);
    };
    const onMessage = (message: unknown) => {
      settle();
      resolve(message as T);
    };
    const onExit = (code: number | null, signal: string | null) => {
      settle();
      reject(new Error(`${what} exited (${signal ?? `code ${code}`}) before reporting`));
    };
    const onError = (error: Error) => {
      settle();
      reject(error);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
    child.on("error", onError);
  });
}

/** Waits for the child to exit, killing it if it takes longer than timeoutMs. */
async function exited(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
