// `npm run bench:mysql`: sysbench oltp_read_only against MariaDB directly,
// through Nexus, and through HAProxy in TCP mode (a byte-level proxy hop
// that reads nothing, for scale), with the same settings in one run.
// Writes bench/results/mysql.json and prints a Markdown table for docs/mysql.md.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import { MysqlProxy } from "../../src/proxy/mysql/index.ts";
import { freePort } from "../../test/mysql/mariadb-instance.ts";

const run = promisify(execFile);
const DATABASE = "nexus_bench";
const settings = {
  test: "oltp_read_only",
  tables: 4,
  tableSize: 10_000,
  threads: 8,
  seconds: 15,
  rounds: 3,
};

interface Measurement {
  readonly target: string;
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
  const haproxy = spawn("haproxy", ["-db", "-f", config], { stdio: "ignore" });
  await waitForPort(port);
  return {
    port,
    async stop() {
      haproxy.kill("SIGTERM");
      await once(haproxy, "exit");
    },
  };
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      await run("mariadb-admin", ["--protocol=TCP", "-h127.0.0.1", `-P${port}`, "-uroot", "ping"]);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`nothing answers on port ${port}`);
}

async function main(): Promise<void> {
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
    // Other work on the machine skews every figure: record how busy it was.
    const loadBefore = loadavg();
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
    await mkdir("bench/results", { recursive: true });
    await writeFile(
      "bench/results/mysql.json",
      `${JSON.stringify(
        {
          benchmark: "sysbench oltp_read_only",
          date: new Date().toISOString(),
          machine: {
            cpus: cpus().length,
            model: cpus()[0]?.model,
            loadAverage1m: { before: loadBefore[0], after: loadavg()[0] },
          },
          settings,
          note: "best of the rounds per target; ratio = qps / direct qps",
          results: rows,
          rounds: measurements,
        },
        null,
        2,
      )}\n`,
    );
    console.log("| target | QPS | TPS | avg latency (ms) | p95 latency (ms) | vs direct |");
    console.log("|---|---:|---:|---:|---:|---:|");
    for (const r of rows) {
      console.log(
        `| ${r.target} | ${r.qps.toFixed(0)} | ${r.tps.toFixed(0)} | ${r.latencyAvgMs} | ${r.latencyP95Ms} | ${r.ratio.toFixed(2)}× |`,
      );
    }
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
