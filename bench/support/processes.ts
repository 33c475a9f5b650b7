// Child processes for the proxy benchmarks: started in a tracked set, waited
// for on their port, and all stopped at the end, on Ctrl-C or on a crash.
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { once } from "node:events";
import { readFile, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { join } from "node:path";

const children = new Set<ChildProcess>();

export function startProcess(
  command: string,
  args: string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "inherit"], ...options });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** SIGTERM to every child still running, then SIGKILL after `graceMs`. */
export async function stopAll(graceMs = 15_000): Promise<void> {
  const running = [...children].filter(
    (child) => child.exitCode === null && child.signalCode === null,
  );
  const exits = running.map((child) => once(child, "exit"));
  for (const child of running) child.kill("SIGTERM");
  const timer = setTimeout(() => {
    for (const child of running) child.kill("SIGKILL");
  }, graceMs);
  await Promise.all(exits);
  clearTimeout(timer);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void stopAll(2000).then(() => process.exit(130));
  });
}
// Last resort when the benchmark itself fails: SIGTERM lets nginx and the
// proxies take their own workers down with them.
process.once("exit", () => {
  for (const child of children) child.kill("SIGTERM");
});

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, "close");
  return port;
}

export interface RunningServer {
  readonly port: number;
  readonly child: ChildProcess;
  /** SIGTERM, then resolves once the process has exited. */
  stop(): Promise<void>;
}

/** Starts a server process (tracked like any other) and resolves once it accepts connections on `port`. */
export async function startServer(
  port: number,
  command: string,
  args: string[],
  options: SpawnOptions = {},
): Promise<RunningServer> {
  const child = startProcess(command, args, options);
  await waitForPort(port);
  return {
    port,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Resolves once something accepts connections on `port` (polls for up to `timeoutMs`). */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (accepted) return;
    if (Date.now() > deadline)
      throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Writes a script that runs `nexus proxy` with its arguments. Cluster
 * workers re-run the primary's entry file, so the proxy needs a real one.
 */
export async function proxyCommandScript(dir: string): Promise<string> {
  const cli = new URL("../../src/proxy/cli.ts", import.meta.url).href;
  const script = join(dir, "nexus-proxy.mjs");
  await writeFile(
    script,
    `import { runProxyCommand } from ${JSON.stringify(cli)};\nprocess.exitCode = await runProxyCommand(process.argv.slice(2));\n`,
  );
  return script;
}

/** Resident memory of a process and its children, in bytes (Linux /proc). */
export async function treeRss(pid: number): Promise<number> {
  const rssOf = async (id: number): Promise<number> => {
    const status = await readFile(`/proc/${id}/status`, "utf8").catch(() => "");
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  };
  const childrenOf = async (id: number): Promise<number[]> => {
    const text = await readFile(`/proc/${id}/task/${id}/children`, "utf8").catch(() => "");
    return text.trim() === "" ? [] : text.trim().split(/\s+/).map(Number);
  };
  let total = await rssOf(pid);
  for (const child of await childrenOf(pid)) total += await treeRss(child);
  return total;
}
