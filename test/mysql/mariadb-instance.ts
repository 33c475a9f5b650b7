// A second, throwaway MariaDB server for tests that route between two
// servers: a fresh data directory under the system temp folder, its own
// port and socket, stopped and removed by `stop()`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../support/ports.ts";

export interface MariadbInstance {
  readonly port: number;
  /** `host:port`, as a resolver route. */
  readonly endpoint: string;
  readonly socketPath: string;
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 60_000;

/** Starts a MariaDB server with grant tables; root has no password. */
export async function startMariadb(): Promise<MariadbInstance> {
  const dir = await mkdtemp(join(tmpdir(), "nexus-mariadb-"));
  const dataDir = join(dir, "data");
  const socketPath = join(dir, "mysqld.sock");
  try {
    await promisify(execFile)("mariadb-install-db", [
      "--no-defaults",
      `--datadir=${dataDir}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      "--user=root",
    ]);
    const port = await freePort();
    const server = spawn(
      "mariadbd",
      [
        "--no-defaults",
        `--datadir=${dataDir}`,
        `--socket=${socketPath}`,
        `--pid-file=${join(dir, "mysqld.pid")}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        "--user=root",
        "--innodb-buffer-pool-size=16M",
        "--skip-log-bin",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    await ready(server);
    return {
      port,
      endpoint: `127.0.0.1:${port}`,
      socketPath,
      async stop() {
        if (server.exitCode === null) {
          server.kill("SIGTERM");
          await once(server, "exit");
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Resolves when the server logs that it accepts connections. */
function ready(server: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => fail("did not start in time"), STARTUP_TIMEOUT_MS);
    const fail = (why: string) => {
      clearTimeout(timer);
      server.kill("SIGKILL");
      reject(new Error(`mariadbd ${why}:\n${log.slice(-2000)}`));
    };
    const onLog = (chunk: string) => {
      log += chunk;
      if (!log.includes("ready for connections")) return;
      clearTimeout(timer);
      server.off("exit", onExit);
      server.stderr!.off("data", onLog);
      server.stderr!.resume(); // keep draining the log so the server never blocks on it
      resolve();
    };
    const onExit = (code: number | null) => fail(`exited with ${code}`);
    server.stderr!.setEncoding("utf8");
    server.stderr!.on("data", onLog);
    server.once("exit", onExit);
  });
}
