// Runs an orchestrator in the test process (its services are real child
// processes) with a private socket and log directory, and waits for
// conditions without depending on machine speed.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pino from "pino";
import type { NexusConfigInput } from "../../src/orchestrator/config.ts";
import { parseConfig } from "../../src/orchestrator/config-file.ts";
import { Orchestrator } from "../../src/orchestrator/orchestrator.ts";
import { Client } from "../../src/transport/index.ts";

export const worker = fileURLToPath(new URL("./fixtures/worker.ts", import.meta.url));
export const broken = fileURLToPath(new URL("./fixtures/broken.ts", import.meta.url));

/** A service entry of the worker fixture playing `name`. */
export function workerService(name: string, extra: Record<string, unknown> = {}) {
  const { env, ...rest } = extra as { env?: Record<string, string> };
  return { entry: worker, env: { FIXTURE_NAME: name, ...env }, ...rest };
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `nexus-${prefix}-`));
}

export interface RunningOrchestrator extends AsyncDisposable {
  readonly orchestrator: Orchestrator;
  readonly dir: string;
  readonly events: string[];
  readonly client: Client;
}

/** Starts an orchestrator for `config` (socketDir and logs go to a temp dir). */
export async function runOrchestrator(
  config: Omit<NexusConfigInput, "socketDir">,
): Promise<RunningOrchestrator> {
  const dir = await tempDir("orchestrator");
  const loaded = parseConfig(
    {
      ...config,
      logs: { dir: join(dir, "logs"), ...config.logs },
      socketDir: join(dir, "sockets"),
    },
    join(dir, "nexus.config.ts"),
  );
  const events: string[] = [];
  const orchestrator = new Orchestrator(loaded, (line) => events.push(line));
  const client = new Client({
    socketDir: loaded.socketDir,
    log: pino({ level: "silent" }),
    rescanIntervalMs: 100,
  });
  const cleanup = async () => {
    await client.close();
    await orchestrator.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await orchestrator.start();
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { orchestrator, dir, events, client, [Symbol.asyncDispose]: cleanup };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

export interface LoadOutcome {
  readonly ok: number;
  /** One entry per failed call: its error message or unexpected status. */
  readonly failures: readonly string[];
}

/**
 * Keeps `callers` loops calling `call` (which throws on failure) while
 * `during` runs, making sure calls flowed before and after it.
 */
export async function underConstantLoad(
  call: () => Promise<unknown>,
  during: () => Promise<void>,
  callers = 8,
): Promise<LoadOutcome> {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const loop = async () => {
    while (running) {
      try {
        await call();
        ok += 1;
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  const loops = Array.from({ length: callers }, loop);
  try {
    await eventually("load to flow", () => ok > 20);
    await during();
    const after = ok;
    await eventually("load to continue", () => ok > after + 20);
  } finally {
    running = false;
    await Promise.all(loops);
  }
  return { ok, failures };
}
