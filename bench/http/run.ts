// `npm run bench:http`: one keep-alive backend (nginx, fixed body) behind
// Nexus, nginx, HAProxy, @fastify/http-proxy and http-proxy, 2 workers each,
// loaded by wrk in interleaved rounds of one run; the backend alone is the
// raw limit. Best round per system (error-free first) goes to bench/results/http.json and the
// table in docs/http-proxy.md, with the CPU time each proxy spent per request
// (its whole process tree, from /proc): unlike req/s, that does not depend on
// how busy the machine is.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { treeCpu } from "../support/cpu-time.ts";
import { stopAll } from "../support/processes.ts";
import {
  loadAverage,
  machine,
  markdownTable,
  publishTable,
  roundsNote,
  writeResults,
} from "../support/report.ts";
import { HOST, startBackend, systems } from "./systems.ts";
import { type LoadResult, type LoadSettings, wrk } from "./wrk.ts";

const { values: flags } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    rounds: { type: "string", default: "2" },
    connections: { type: "string", default: "64" },
    workers: { type: "string", default: "2" },
  },
});
const load: LoadSettings = {
  threads: 2,
  connections: Number(flags.connections),
  seconds: Number(flags.seconds),
  host: HOST,
};
const rounds = Number(flags.rounds);
const workers = Number(flags.workers);

type Round = LoadResult & {
  workers: number;
  loadAverage: number;
  /** The proxy's CPU time per request in µs (0 for the backend alone). */
  proxyCpuUs: number;
};

/** A round without errors beats one with errors (fast error answers inflate req/s); then req/s. */
function isBetter(round: Round, than: Round): boolean {
  if ((round.errors === 0) !== (than.errors === 0)) return round.errors === 0;
  return round.rps > than.rps;
}

// How busy the machine was before this run added its own load.
const loadAtStart = loadAverage();
const dir = await mkdtemp(join(tmpdir(), "nexus-bench-http-"));
const best = new Map<string, Round>();
const loads: number[] = [];
try {
  const backend = await startBackend(dir);
  const backendPort = backend.port;
  const targets = [
    {
      name: "direct (backend alone)",
      workers: 1,
      port: backendPort,
      pid: undefined as number | undefined,
    },
  ];
  for (const system of systems(workers)) {
    const home = join(dir, system.name.replace(/\W/g, ""));
    await mkdir(home);
    const server = await system.start(home, backendPort);
    console.log(`${system.name} listens on ${server.port}`);
    targets.push({
      name: system.name,
      workers: system.workers,
      port: server.port,
      pid: server.child.pid,
    });
  }
  for (let round = 1; round <= rounds; round++) {
    for (const target of targets) {
      const url = `http://127.0.0.1:${target.port}/`;
      await wrk(url, { ...load, seconds: 2 }); // warm-up: pools filled, code optimised
      const cpu = target.pid === undefined ? async () => 0 : treeCpu(target.pid);
      const cpuBefore = await cpu();
      const measured = await wrk(url, load);
      const cpuUs = (await cpu()) - cpuBefore;
      const result = {
        ...measured,
        workers: target.workers,
        loadAverage: loadAverage(),
        proxyCpuUs: Number((cpuUs / measured.requests).toFixed(1)),
      };
      loads.push(result.loadAverage);
      console.log(
        `round ${round} ${target.name}: ${result.rps} req/s, p50 ${result.p50_us} µs, p99 ${result.p99_us} µs, errors ${result.errors}, proxy CPU ${result.proxyCpuUs} µs/request, load ${result.loadAverage}`,
      );
      const previous = best.get(target.name);
      if (!previous || isBetter(result, previous)) best.set(target.name, result);
    }
  }
} finally {
  await stopAll();
  await rm(dir, { recursive: true, force: true });
}

const results = [...best].map(([system, result]) => ({ system, ...result }));
const rpsOf = (name: string) => best.get(name)?.rps ?? Number.NaN;
const nexus = rpsOf("nexus");
const bestNodePeer = Math.max(rpsOf("@fastify/http-proxy"), rpsOf("http-proxy"));
const cpuOf = (name: string) => best.get(name)?.proxyCpuUs ?? Number.NaN;
const ratios = {
  nexus_vs_best_node_peer: Number((nexus / bestNodePeer).toFixed(2)),
  nexus_vs_nginx: Number((nexus / rpsOf("nginx")).toFixed(2)),
  /** How many times more CPU per request the proxy spends than Nexus (above 1: Nexus is cheaper). */
  cpu_best_node_peer_vs_nexus: Number(
    (Math.min(cpuOf("@fastify/http-proxy"), cpuOf("http-proxy")) / cpuOf("nexus")).toFixed(2),
  ),
  cpu_nginx_vs_nexus: Number((cpuOf("nginx") / cpuOf("nexus")).toFixed(2)),
};
await writeResults("http", {
  benchmark: "HTTP/1.1 keep-alive GET through a reverse proxy",
  date: new Date().toISOString(),
  machine: machine(),
  settings: { ...load, rounds, workers, backend: "nginx, 1 worker, fixed 13-byte body" },
  note: "best round per system (rounds without errors first); all processes share the machine's cores with wrk; loadAverage = 1-minute load after the round; proxyCpuUs = CPU time of the proxy's processes per request in that round",
  loadAtStart,
  results,
  ratios,
  targets: { nexus_vs_best_node_peer: 1.5, nexus_vs_nginx: 0.6 },
});
const table = markdownTable(
  ["system", "workers", "req/s", "p50", "p99", "errors", "proxy CPU per request", "load average"],
  results.map((r) => [
    r.system,
    String(r.workers),
    r.rps.toLocaleString("en-US"),
    `${(r.p50_us / 1000).toFixed(2)} ms`,
    `${(r.p99_us / 1000).toFixed(2)} ms`,
    String(r.errors),
    r.proxyCpuUs === 0 ? "–" : `${r.proxyCpuUs} µs`,
    String(r.loadAverage),
  ]),
);
const summary = `Nexus: ${ratios.nexus_vs_best_node_peer}× the best Node peer (target 1.5×), ${ratios.nexus_vs_nginx}× nginx (target 0.6×) in req/s; per request the best Node peer spends ${ratios.cpu_best_node_peer_vs_nexus}× Nexus's CPU time and nginx ${ratios.cpu_nginx_vs_nexus}×. ${load.connections} connections, ${load.threads} wrk threads, ${roundsNote({ seconds: load.seconds, rounds, keep: "best" }, loadAtStart, loads)}`;
await publishTable("docs/http-proxy.md", "http", table, summary);
