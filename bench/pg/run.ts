// `npm run bench:pg`: pgbench select-only (-S, 16 clients) against PostgreSQL
// directly, through Nexus, through PgBouncer in session mode (the peer), and
// through the core byte relay alone (a Node hop that parses nothing, for
// scale), with the same duration each, in interleaved rounds of one run.
// Writes bench/results/pg.json and the table in docs/postgres.md.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { chown, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import {
  BackendRouter,
  LOOPBACK_RANGES,
  relay,
  StaticResolver,
} from "../../src/proxy/core/index.ts";
import { PostgresProxy } from "../../src/proxy/postgres/index.ts";
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
const DATABASE = "nexus_bench_pg";
const SERVER = { host: "127.0.0.1", port: 5432 };

const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string", default: "15" },
    rounds: { type: "string", default: "3" },
  },
});
const settings = {
  mode: "select-only (-S), simple protocol",
  clients: 16,
  threads: 2,
  scale: 10,
  seconds: Number(flags.seconds),
  rounds: Number(flags.rounds),
};

interface Measurement {
  readonly target: string;
  readonly tps: number;
  readonly latencyAvgMs: number;
  readonly transactions: number;
  readonly failed: number;
  /** The machine's 1-minute load average after the run: others' work skews figures. */
  readonly loadAverage: number;
}

const psqlArgs = ["-X", "-q", "-h", SERVER.host, "-p", String(SERVER.port), "-U", "postgres"];

async function pgbench(target: string, port: number): Promise<Measurement> {
  const { stdout } = await run(
    "pgbench",
    [
      ...["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"],
      ...["-S", "-n", "-c", String(settings.clients), "-j", String(settings.threads)],
      ...["-T", String(settings.seconds), DATABASE],
    ],
    { maxBuffer: 1 << 24 },
  );
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(stdout);
    if (!match?.[1]) throw new Error(`pgbench output lacks ${pattern}:\n${stdout}`);
    return Number(match[1]);
  };
  return {
    target,
    tps: number(/tps = ([\d.]+) \(without initial connection time\)/),
    latencyAvgMs: number(/latency average = ([\d.]+) ms/),
    transactions: number(/number of transactions actually processed: (\d+)/),
    failed: number(/number of failed transactions: (\d+)/),
    loadAverage: loadAverage(),
  };
}

interface Peer {
  readonly port: number;
  stop(): Promise<void>;
}

/** PgBouncer in session mode; it refuses to run as root, so it runs as `postgres`. */
async function startPgbouncer(dir: string): Promise<Peer> {
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
  const pgbouncer = startProcess("runuser", ["-u", "postgres", "--", "pgbouncer", config], {
    stdio: "ignore",
  });
  await waitForPort(port);
  return {
    port,
    async stop() {
      pgbouncer.kill("SIGTERM");
      await once(pgbouncer, "exit");
    },
  };
}

/**
 * The core byte relay alone, without any PostgreSQL parsing: what one hop
 * through Node streams costs, the floor under any Node proxy.
 */
async function startBareRelay(): Promise<Peer> {
  const server = createServer({ noDelay: true }, (client) => {
    const backend = connect({ ...SERVER, noDelay: true });
    void relay(client, backend);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    async stop() {
      server.close();
    },
  };
}

/**
 * Runs every target once per round. Each round starts one target later, so
 * a busy moment of the machine, or being first, favours no target.
 */
async function measureInRounds(targets: readonly [string, number][]): Promise<Measurement[]> {
  const measurements: Measurement[] = [];
  for (let round = 0; round < settings.rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const [target, port] = targets[(round + i) % targets.length]!;
      console.error(`round ${round + 1}: ${target}…`);
      measurements.push(await pgbench(target, port));
    }
  }
  return measurements;
}

/** The median round of each target (by TPS), with its ratio to direct. */
function summarize(targets: readonly [string, number][], measurements: readonly Measurement[]) {
  const medians = targets.map(([target]) => {
    const runs = measurements.filter((m) => m.target === target).sort((a, b) => a.tps - b.tps);
    return runs[Math.floor((runs.length - 1) / 2)]!;
  });
  const direct = medians[0]!.tps;
  return medians.map((m) => ({ ...m, ratio: Number((m.tps / direct).toFixed(3)) }));
}

/** The table for the docs, and a line with the ratios and the machine's load. */
function report(
  rows: ReturnType<typeof summarize>,
  measurements: readonly Measurement[],
  loadAtStart: number,
): string {
  const table = markdownTable(
    ["target", "TPS", "avg latency (ms)", "vs direct", "load average"],
    rows.map((r) => [
      r.target,
      r.tps.toFixed(0),
      r.latencyAvgMs.toFixed(3),
      `${r.ratio.toFixed(2)}×`,
      String(r.loadAverage),
    ]),
  );
  const loads = measurements.map((m) => m.loadAverage);
  const summary =
    `${nexusRatios(rows, { target: "pgbouncer (session)", name: "PgBouncer" }, 0.9)} ` +
    `${settings.clients} clients, ${settings.seconds} s per round, median of ${settings.rounds} rounds, ${loadNote(loadAtStart, loads)}`;
  console.log(`\n${table}\n\n${summary}`);
  return `${table}\n\n${summary}`;
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
  const router = new BackendRouter({
    resolver: new StaticResolver({ [DATABASE]: `${SERVER.host}:${SERVER.port}` }),
    ssrf: { allow: LOOPBACK_RANGES },
  });
  const proxy = new PostgresProxy({ router });
  const peers: Peer[] = [];
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
    const nexusPort = (await proxy.listen(0, "127.0.0.1")).port;
    const pgbouncer = await startPgbouncer(dir);
    peers.push(pgbouncer);
    const bare = await startBareRelay();
    peers.push(bare);
    const targets: [string, number][] = [
      ["direct", SERVER.port],
      ["nexus", nexusPort],
      ["pgbouncer (session)", pgbouncer.port],
      ["bare relay (no parsing)", bare.port],
    ];
    const measurements = await measureInRounds(targets);
    const rows = summarize(targets, measurements);
    await writeResults("pg", {
      benchmark: "pgbench -S",
      date: new Date().toISOString(),
      machine: machine(),
      server: `PostgreSQL ${await serverVersion()}`,
      settings,
      note: "median of the rounds per target; ratio = tps / direct tps; loadAverage = 1-minute load after the round",
      loadAtStart,
      results: rows,
      rounds: measurements,
    });
    await updateDocTable("docs/postgres.md", "pg", report(rows, measurements, loadAtStart));
  } finally {
    for (const peer of peers) await peer.stop();
    await proxy.close();
    await router.close();
    await run("psql", [
      ...psqlArgs,
      "-c",
      `DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`,
    ]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
