// Runs the real `nexus` command line (bin/nexus.ts) as child processes.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

export const nexusBin = fileURLToPath(new URL("../../bin/nexus.ts", import.meta.url));
export const workerEntry = fileURLToPath(
  new URL("../orchestrator/fixtures/worker.ts", import.meta.url),
);

export interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `nexus ...args` to completion. */
export function nexus(args: readonly string[], timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [nexusBin, ...args],
      { timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: unknown }).code as number | null) : 0;
        resolve({ code: typeof code === "number" ? code : null, stdout, stderr });
      },
    );
  });
}

export interface UpProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  output(): string;
  /** Resolves when stdout contains `text`. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

/** Starts `nexus up <config>` and waits until it is serving. */
const spawned = new Set<ChildProcess>();

/** Starts `nexus ...args` in the background; `killStragglers` ends it if a test failed first. */
export function spawnNexus(args: readonly string[]): ChildProcess & { stdout: Readable } {
  const child = spawn(process.execPath, [nexusBin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  spawned.add(child);
  child.once("exit", () => spawned.delete(child));
  return child;
}

/** For `after()`: kills what a failed test left running (its services then exit on their own). */
export function killStragglers(): void {
  for (const child of spawned) child.kill("SIGKILL");
}

export async function up(config: string, extraArgs: readonly string[] = []): Promise<UpProcess> {
  const child = spawnNexus(["up", config, ...extraArgs]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    child.emit("progress");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const waitFor = (text: string, timeoutMs = 60_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stdout.includes(text)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`"${text}" not seen; stdout:\n${stdout}\nstderr:\n${stderr}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        child.off("progress", check);
      };
      child.on("progress", check);
      void exited.then(() => {
        if (stdout.includes(text)) return;
        cleanup();
        reject(
          new Error(`nexus up exited before "${text}"; stdout:\n${stdout}\nstderr:\n${stderr}`),
        );
      });
      check();
    });
  const process_ = { child, output: () => stdout, waitFor, exited };
  await waitFor("Ctrl-C stops everything");
  return process_;
}

/** Writes a YAML config of worker services into `dir`. */
export async function writeConfig(dir: string, config: Record<string, unknown>): Promise<string> {
  const file = join(dir, "nexus.config.yaml");
  await writeFile(file, stringify(config));
  return file;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
