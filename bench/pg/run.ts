// `npm run bench:pg`: pgbench select-only (-S, 16 clients) against PostgreSQL
// directly, through Nexus (as `nexus proxy` with 2 workers, the documented
// setting for 2 cores, and in this process as one worker), through PgBouncer in session mode (the peer), and through the
// core byte relay alone (a Node hop that parses nothing, for scale), with
// the same duration each, in interleaved rounds of one run. Each round also
// records the CPU time the proxy, the server and pgbench spent per
// transaction. Writes bench/results/pg.json and the table in docs/postgres.md.
import { execFile } from "node:child_process";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { PostgresProxy } from "../../src/proxy/postgres/index.ts";
import { startNexusTargets, targetsAndMeters } from "../relay/nexus-targets.ts";
import {
  type CpuParts,
  type CpuPerUnit,
  cpuPerUnit,
  measureCpu,
  parentOf,
  totalCpu,
  treeCpu,
} from "../support/cpu-time.ts";
import { freePort, type RunningServer, startServer } from "../support/processes.ts";
import { loadAverage } from "../support/report.ts";
import {
  measureInRounds,
  numberIn,
  publishRounds,
  type Round,
  roundsFlags,
} from "../support/rounds.ts";

const run = promisify(execFile);
const DATABASE = "nexus_bench_pg";
const SERVER = { host: "127.0.0.1", port: 5432 };

const settings = {
  mode: "select-only (-S), simple protocol",
  clients: 16,
  threads: 2,
  scale: 10,
  ...roundsFlags(),
};

interface Measurement extends Round, CpuPerUnit {
  readonly tps: number;
  readonly latencyAvgMs: number;
  readonly transactions: number;
  readonly failed: number;
}

const psqlArgs = ["-X", "-q", "-h", SERVER.host, "-p", String(SERVER.port), "-U", "postgres"];

async function pgbench(target: string, port: number, parts: CpuParts): Promise<Measurement> {
  const { result: stdout, ...cpu } = await measureCpu(
    parts,
    async () =>
      (
        await run(
          "pgbench",
          [
            ...["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"],
            ...["-S", "-n", "-c", String(settings.clients), "-j", String(settings.threads)],
            ...["-T", String(settings.seconds), DATABASE],
          ],
          { maxBuffer: 1 << 24 },
        )
      ).stdout,
  );
  const number = (pattern: RegExp) => numberIn(stdout, pattern, "pgbench");
  const transactions = number(/number of transactions actually processed: (\d+)/);
  return {
    target,
    tps: number(/tps = ([\d.]+) \(without initial connection time\)/),
    latencyAvgMs: number(/latency average = ([\d.]+) ms/),
    transactions,
    failed: number(/number of failed transactions: (\d+)/),
    ...cpuPerUnit(cpu, transactions),
    loadAverage: loadAverage(),
  };
}

/** PgBouncer in session mode; it refuses to run as root, so it runs as `postgres`. */
async function startPgbouncer(dir: string): Promise<RunningServer> {
  const port = await freePort();
  const config = join(dir, "pgbouncer.ini");
  const users = join(dir, "userlist.txt");
  await writeFile(users, '"postgres" ""\n');
  await writeFile(
    config,
    [
      "[databases]",
      `${DATABASE} = host=${SERVER.host} port=${SERVER.port} dbname=${DATABASE}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = trust",
      `auth_file = ${users}`,
      "pool_mode = session",
      "max_client_conn = 200",
      `default_pool_size = ${settings.clients * 2}`,
      `logfile = ${join(dir, "pgbouncer.log")}`,
      "",
    ].join("\n"),
  );
  const { stdout } = await run("id", ["-u", "postgres"]);
  const uid = Number(stdout.trim());
  for (const path of [dir, config, users]) await chown(path, uid, uid);
  return startServer(port, "runuser", ["-u", "postgres", "--", "pgbouncer", config], {
    stdio: "ignore",
  });
}

/** The postmaster, parent of every backend: its CPU time and theirs count as the server's. */
async function postmasterPid(): Promise<number> {
  // The checkpointer lives as long as the server does; its parent is the postmaster.
  const { stdout } = await run("psql", [
    ...psqlArgs,
    "-At",
    "-c",
    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer'",
  ]);
  return parentOf(Number(stdout.trim()));
}

async function serverVersion(): Promise<string> {
  const { stdout } = await run("psql", [...psqlArgs, "-At", "-c", "SHOW server_version"]);
  return stdout.trim();
}

async function main(): Promise<void> {
  // How busy the machine was before this run added its own load.
  const loadAtStart = loadAverage();
  await run("psql", [...psqlArgs, "-c", `DROP DATABASE IF EXISTS ${DATABASE}`]);
  await run("psql", [...psqlArgs, "-c", `CREATE DATABASE ${DATABASE}`]);
  const dir = await mkdtemp(join(tmpdir(), "nexus-bench-pg-"));
  const peers: { stop(): Promise<void> }[] = [];
  try {
    console.error(`preparing pgbench tables (scale ${settings.scale})…`);
    await run("pgbench", [
      ...psqlArgs.slice(2),
      "-i",
      "-q",
      "-s",
      String(settings.scale),
      DATABASE,
    ]);
    const nexus = await startNexusTargets(
      dir,
      "postgres",
      DATABASE,
      SERVER,
      (router) => new PostgresProxy({ router }),
      (router) => new PostgresProxy({ router, kernelSplice: false }),
    );
    peers.push(nexus);
    const pgbouncer = await startPgbouncer(dir);
    peers.push(pgbouncer);
    const { targets, proxies } = targetsAndMeters(SERVER.port, [
      nexus.workers,
      nexus.inProcess,
      nexus.processRelay!,
      { target: ["pgbouncer (session)", pgbouncer.port], cpu: treeCpu(pgbouncer.child.pid!) },
      nexus.bareRelay,
    ]);
    const server = treeCpu(await postmasterPid());
    const measurements = await measureInRounds(targets, settings.rounds, (target, port) =>
      pgbench(target, port, { proxy: proxies.get(target), server }),
    );
    await publishRounds({
      name: "pg",
      doc: "docs/postgres.md",
      benchmark: "pgbench -S",
      server: `PostgreSQL ${await serverVersion()}`,
      settings,
      keep: "median",
      score: "tps",
      peer: { target: "pgbouncer (session)", name: "PgBouncer" },
      goal: 0.9,
      load: `${settings.clients} clients`,
      columns: [
        ["TPS", (r) => r.tps.toFixed(0)],
        ["avg latency (ms)", (r) => r.latencyAvgMs.toFixed(3)],
        ["proxy CPU (µs/tx)", (r) => r.proxyCpuUs.toFixed(1)],
        ["all CPU (µs/tx)", (r) => totalCpu(r).toFixed(1)],
        ["machine CPU (µs/tx)", (r) => r.machineCpuUs.toFixed(1)],
      ],
      loadAtStart,
      targets,
      measurements,
    });
  } finally {
    for (const peer of peers) await peer.stop();
    await run("psql", [
      ...psqlArgs,
      "-c",
      `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`,
    ]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
