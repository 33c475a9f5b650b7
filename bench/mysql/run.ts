// `npm run bench:mysql`: sysbench oltp_read_only against MariaDB directly,
// through Nexus (as `nexus proxy` with 2 workers, the documented setting
// for 2 cores, and in this process as one worker),
// through HAProxy in TCP mode (a byte-level proxy hop in C that reads
// nothing, the peer) and through the core byte relay alone (a Node hop that
// parses nothing), with the same settings in interleaved rounds of one run.
// Each round also records the CPU time the proxy, MariaDB and sysbench spent
// per query. Writes bench/results/mysql.json and the table in docs/mysql.md.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { MysqlProxy } from "../../src/proxy/mysql/index.ts";
import { startNexusTargets, targetsAndMeters } from "../relay/nexus-targets.ts";
import {
  type CpuParts,
  type CpuPerUnit,
  cpuPerUnit,
  measureCpu,
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
const DATABASE = "nexus_bench";
const SERVER = { host: "127.0.0.1", port: 3306 };
const settings = {
  test: "oltp_read_only",
  tables: 4,
  tableSize: 10_000,
  threads: 8,
  ...roundsFlags(),
};

interface Measurement extends Round, CpuPerUnit {
  readonly qps: number;
  readonly tps: number;
  readonly latencyAvgMs: number;
  readonly latencyP95Ms: number;
  readonly errors: number;
}

function sysbenchArgs(port: number, command: string): string[] {
  return [
    settings.test,
    "--db-driver=mysql",
    "--mysql-host=127.0.0.1",
    `--mysql-port=${port}`,
    "--mysql-user=root",
    `--mysql-db=${DATABASE}`,
    `--tables=${settings.tables}`,
    `--table-size=${settings.tableSize}`,
    `--threads=${settings.threads}`,
    `--time=${settings.seconds}`,
    "--report-interval=0",
    command,
  ];
}

async function sysbench(target: string, port: number, parts: CpuParts): Promise<Measurement> {
  const { result: stdout, ...cpu } = await measureCpu(
    parts,
    async () => (await run("sysbench", sysbenchArgs(port, "run"), { maxBuffer: 1 << 24 })).stdout,
  );
  const number = (pattern: RegExp) => numberIn(stdout, pattern, "sysbench");
  return {
    target,
    qps: number(/queries:\s+\d+\s+\(([\d.]+) per sec/),
    tps: number(/transactions:\s+\d+\s+\(([\d.]+) per sec/),
    latencyAvgMs: number(/avg:\s+([\d.]+)/),
    latencyP95Ms: number(/95th percentile:\s+([\d.]+)/),
    errors: number(/ignored errors:\s+(\d+)/),
    ...cpuPerUnit(cpu, number(/queries:\s+(\d+)/)),
    loadAverage: loadAverage(),
  };
}

/** MariaDB's process, whose CPU time counts as the server's. */
async function mariadbPid(mariadb: readonly string[]): Promise<number> {
  const { stdout } = await run("mariadb", [...mariadb, "-N", "-e", "SELECT @@pid_file"]);
  return Number((await readFile(stdout.trim(), "utf8")).trim());
}

/** HAProxy forwarding TCP to MariaDB. */
async function startHaproxy(dir: string): Promise<RunningServer> {
  const port = await freePort();
  const config = join(dir, "haproxy.cfg");
  await writeFile(
    config,
    [
      "global",
      "  maxconn 1024",
      "defaults",
      "  mode tcp",
      "  timeout connect 5s",
      "  timeout client 60s",
      "  timeout server 60s",
      "listen mysql",
      `  bind 127.0.0.1:${port}`,
      "  server mariadb 127.0.0.1:3306",
      "",
    ].join("\n"),
  );
  return startServer(port, "haproxy", ["-db", "-f", config], { stdio: "ignore" });
}

async function main(): Promise<void> {
  // How busy the machine was before this run added its own load.
  const loadAtStart = loadAverage();
  const mariadb = ["--protocol=TCP", "-h127.0.0.1", "-P3306", "-uroot"];
  await run("mariadb", [...mariadb, "-e", `CREATE DATABASE IF NOT EXISTS ${DATABASE}`]);
  const dir = await mkdtemp(join(tmpdir(), "nexus-bench-mysql-"));
  const haproxy = await startHaproxy(dir);
  const nexus = await startNexusTargets(
    dir,
    "mysql",
    DATABASE,
    SERVER,
    (router) => new MysqlProxy({ router }),
    (router) => new MysqlProxy({ router, kernelSplice: false }),
  );
  try {
    console.error("preparing tables…");
    await run("sysbench", sysbenchArgs(SERVER.port, "prepare"));
    const { targets, proxies } = targetsAndMeters(SERVER.port, [
      nexus.workers,
      nexus.inProcess,
      nexus.processRelay!,
      { target: ["haproxy (tcp)", haproxy.port], cpu: treeCpu(haproxy.child.pid!) },
      nexus.bareRelay,
    ]);
    const server = treeCpu(await mariadbPid(mariadb));
    const measurements = await measureInRounds(targets, settings.rounds, (target, port) =>
      sysbench(target, port, { proxy: proxies.get(target), server }),
    );
    await publishRounds({
      name: "mysql",
      doc: "docs/mysql.md",
      benchmark: "sysbench oltp_read_only",
      settings,
      keep: "best",
      score: "qps",
      peer: { target: "haproxy (tcp)", name: "HAProxy" },
      goal: 0.9,
      load: `${settings.threads} threads`,
      columns: [
        ["QPS", (r) => r.qps.toFixed(0)],
        ["TPS", (r) => r.tps.toFixed(0)],
        ["avg latency (ms)", (r) => String(r.latencyAvgMs)],
        ["p95 latency (ms)", (r) => String(r.latencyP95Ms)],
        ["proxy CPU (µs/query)", (r) => r.proxyCpuUs.toFixed(1)],
        ["all CPU (µs/query)", (r) => totalCpu(r).toFixed(1)],
        ["machine CPU (µs/query)", (r) => r.machineCpuUs.toFixed(1)],
      ],
      loadAtStart,
      targets,
      measurements,
    });
  } finally {
    await run("sysbench", sysbenchArgs(SERVER.port, "cleanup")).catch(() => {});
    await run("mariadb", [...mariadb, "-e", `DROP DATABASE IF EXISTS ${DATABASE}`]).catch(() => {});
    await haproxy.stop();
    await nexus.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
