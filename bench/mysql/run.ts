// `npm run bench:mysql`: sysbench oltp_read_only against MariaDB directly,
// through Nexus, and through HAProxy in TCP mode (a byte-level proxy hop
// that reads nothing, for scale), with the same settings in one run.
// Writes bench/results/mysql.json and the table in docs/mysql.md.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import { MysqlProxy } from "../../src/proxy/mysql/index.ts";
import { freePort, type RunningServer, startServer } from "../support/processes.ts";
import { loadAverage } from "../support/report.ts";
import {
  measureInRounds,
  numberIn,
  publishRounds,
  type Round,
  roundsFlags,
  type Target,
} from "../support/rounds.ts";

const run = promisify(execFile);
const DATABASE = "nexus_bench";
const settings = {
  test: "oltp_read_only",
  tables: 4,
  tableSize: 10_000,
  threads: 8,
  ...roundsFlags(),
};

interface Measurement extends Round {
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

async function sysbench(target: string, port: number): Promise<Measurement> {
  const { stdout } = await run("sysbench", sysbenchArgs(port, "run"), { maxBuffer: 1 << 24 });
  const number = (pattern: RegExp) => numberIn(stdout, pattern, "sysbench");
  return {
    target,
    qps: number(/queries:\s+\d+\s+\(([\d.]+) per sec/),
    tps: number(/transactions:\s+\d+\s+\(([\d.]+) per sec/),
    latencyAvgMs: number(/avg:\s+([\d.]+)/),
    latencyP95Ms: number(/95th percentile:\s+([\d.]+)/),
    errors: number(/ignored errors:\s+(\d+)/),
    loadAverage: loadAverage(),
  };
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
  const router = new BackendRouter({
    resolver: new StaticResolver({ [DATABASE]: "127.0.0.1:3306" }),
    ssrf: { allow: LOOPBACK_RANGES },
  });
  const proxy = new MysqlProxy({ router });
  const haproxy = await startHaproxy(dir);
  try {
    const nexusPort = (await proxy.listen(0, "127.0.0.1")).port;
    console.error("preparing tables…");
    await run("sysbench", sysbenchArgs(3306, "prepare"));
    const targets: Target[] = [
      ["direct", 3306],
      ["nexus", nexusPort],
      ["haproxy (tcp)", haproxy.port],
    ];
    const measurements = await measureInRounds(targets, settings.rounds, sysbench);
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
      ],
      loadAtStart,
      targets,
      measurements,
    });
  } finally {
    await run("sysbench", sysbenchArgs(3306, "cleanup")).catch(() => {});
    await run("mariadb", [...mariadb, "-e", `DROP DATABASE IF EXISTS ${DATABASE}`]).catch(() => {});
    await haproxy.stop();
    await proxy.close();
    await router.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
