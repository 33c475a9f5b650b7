// A second, throwaway PostgreSQL server for tests that route between two
// instances. initdb and pg_ctl run as the `postgres` OS user (the server
// refuses to run as root) in a temporary folder removed by `stop`.
import { execFile } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../support/ports.ts";

const run = promisify(execFile);

export interface TestCluster {
  readonly port: number;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  readonly maxConnections?: number;
  /** With a password, TCP clients must pass SCRAM-SHA-256 as `postgres`; without, trust. */
  readonly password?: string;
  /** PEM certificate and key: the server then accepts SSL (ssl=on). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const bin = serverBinaries();
  const dir = mkdtempSync(join(tmpdir(), "nexus-pg-"));
  const { uid, gid } = await postgresUser();
  chownSync(dir, uid, gid);
  const data = join(dir, "data");
  const asPostgres = (command: string, args: string[]) =>
    run("runuser", ["-u", "postgres", "--", join(bin, command), ...args], { cwd: dir });
  const port = await freePort();
  const serverOptions = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    `-c max_connections=${options.maxConnections ?? 50}`,
    "-c shared_buffers=16MB",
    "-c fsync=off",
  ];
  /** A file only the server's user may read, as PostgreSQL requires of keys. */
  const owned = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text, { mode: 0o600 });
    chownSync(path, uid, gid);
    return path;
  };
  if (options.tls) {
    const cert = owned("server.crt", options.tls.cert);
    const key = owned("server.key", options.tls.key);
    serverOptions.push("-c ssl=on", `-c ssl_cert_file=${cert}`, `-c ssl_key_file=${key}`);
  }
  const auth = ["-A", "trust"];
  if (options.password !== undefined) {
    auth.push("--auth-host=scram-sha-256", `--pwfile=${owned("password", options.password)}`);
  }
  try {
    await asPostgres("initdb", ["-D", data, ...auth, "-U", "postgres", "--no-sync"]);
    await asPostgres("pg_ctl", [
      "-D",
      data,
      "-o",
      serverOptions.join(" "),
      "-l",
      join(dir, "log"),
      "-w",
      "start",
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    async stop() {
      await asPostgres("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function serverBinaries(): string {
  const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0)
    throw new Error("no PostgreSQL server binaries in /usr/lib/postgresql");
  return join("/usr/lib/postgresql", versions[0]!, "bin");
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([
    run("id", ["-u", "postgres"]),
    run("id", ["-g", "postgres"]),
  ]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
