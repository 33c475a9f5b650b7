// `npm run bench:mysql`: sysbench oltp_read_only against MariaDB directly,
// through Nexus, and through HAProxy in TCP mode (a byte-level proxy hop
// that reads nothing, for scale), with the same settings in one run.
// Writes bench/results/mysql.json and the table in docs/mysql.md.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import { MysqlProxy } from "../../src/proxy/mysql/index.ts";
import { freePort, startProcess, waitForPort } from "../http/processes.ts";
import {
  loadAverage,
  loadNote,
  machine,
  markdownTable,
  nexusRatios,
  updateDocTable,
  writeResults,
} from "../http/report.ts";

const run = promisify(execFile);
const DATABASE = "nexus_bench";
const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string", default: "15" },
    rounds: { type: "string", default: "3" },
  },
});
const settings = {
  test: "oltp_read_only",
  tables: 4,
  tableSize: 10_000,
  threads: 8,
  seconds: Number(flags.seconds),
  rounds: Number(flags.rounds),
};

interface Measurement {
  readonly target: string;
  readonly qps: number;
  readonly tps: number;
  readonly latencyAvgMs: number;
  readonly latencyP95Ms: number;
  readonly errors: number;
  /** The machine's 1-minute load average after the run: others' work skews figures. */
  readonly loadAverage: number;
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
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(stdout);
    if (!match?.[1]) throw new Error(`sysbench output lacks ${pattern}:\n${stdout}`);
    return Number(match[1]);
  };
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

/** HAProxy forwarding TCP to MariaDB; returns its port and a stop function. */
async function startHaproxy(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
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
  const haproxy = startProcess("haproxy", ["-db", "-f", config], { stdio: "ignore" });
  await waitForPort(port);
  return {
    port,
    async stop() {
      haproxy.kill("SIGTERM");
      await once(haproxy, "exit");
    },
  };
}

/** The table for the docs, and a line with the ratios and the machine's load. */
function report(
  rows: readonly (Measurement & { ratio: number })[],
  measurements: readonly Measurement[],
  loadAtStart: number,
): string {
  const table = markdownTable(
    ["target", "QPS", "TPS", "avg latency (ms)", "p95 latency (ms)", "vs direct", "load average"],
    rows.map((r) => [
      r.target,
      r.qps.toFixed(0),
      r.tps.toFixed(0),
      String(r.latencyAvgMs),
      String(r.latencyP95Ms),
      `${r.ratio.toFixed(2)}×`,
      String(r.loadAverage),
    ]),
  );
  const loads = measurements.map((m) => m.loadAverage);
  const summary =
    `${nexusRatios(rows, { target: "haproxy (tcp)", name: "HAProxy" }, 0.9)} ` +
    `${settings.threads} threads, ${settings.seconds} s per round, best of ${settings.rounds} rounds, ${loadNote(loadAtStart, loads)}`;
  console.log(`\n${table}\n\n${summary}`);
  return `${table}\n\n${summary}`;
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
    const targets: [string, number][] = [
      ["direct", 3306],
      ["nexus", nexusPort],
      ["haproxy (tcp)", haproxy.port],
    ];
    const measurements: Measurement[] = [];
    // Interleaved rounds, so that a slow moment of the machine hits all.
    for (let round = 0; round < settings.rounds; round++) {
      for (const [target, port] of targets) {
        console.error(`round ${round + 1}: ${target}…`);
        measurements.push(await sysbench(target, port));
      }
    }
    const best = targets.map(
      ([target]) =>
        measurements
          .filter((m) => m.target === target)
          .sort((a, b) => b.qps - a.qps)[0] as Measurement,
    );
    const direct = best[0]!.qps;
    const rows = best.map((m) => ({ ...m, ratio: Number((m.qps / direct).toFixed(3)) }));
    await writeResults("mysql", {
      benchmark: "sysbench oltp_read_only",
      date: new Date().toISOString(),
      machine: machine(),
      settings,
      note: "best of the rounds per target; ratio = qps / direct qps; loadAverage = 1-minute load after the round",
      loadAtStart,
      results: rows,
      rounds: measurements,
    });
    await updateDocTable("docs/mysql.md", "mysql", report(rows, measurements, loadAtStart));
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
