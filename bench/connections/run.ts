// `npm run bench:connections`: how many idle proxied HTTP connections Nexus
// holds, and what each costs in proxy memory. Every connection sends one
// request through the proxy (to a keep-alive backend) and then stays open.
// A process may hold at most `ulimit -n` descriptors (and this machine may
// not raise its hard limit), so both the proxy and the load are spread over
// several processes; load comes from several loopback source addresses so
// that ephemeral ports do not run out. Writes bench/results/connections.json
// and the table in docs/http-proxy.md.
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { request } from "undici";
import {
  freePort,
  proxyCommandScript,
  startProcess,
  stopAll,
  treeRss,
  waitForPort,
} from "../support/processes.ts";
import { machine, markdownTable, publishTable, writeResults } from "../support/report.ts";

const { values: flags } = parseArgs({
  options: {
    target: { type: "string", default: "100000" },
    "per-process": { type: "string", default: "15000" },
    /** Young-generation size of the proxy workers, in MiB (V8 default when 0). */
    "semi-space": { type: "string", default: "2" },
  },
});
const target = Number(flags.target);
const perProcess = Number(flags["per-process"]);
const semiSpace = Number(flags["semi-space"]);
const HOST = "idle.test";
const CLIENT = fileURLToPath(new URL("./idle-client.ts", import.meta.url));

async function activeConnections(metricsPort: number): Promise<number> {
  const text = await (await request(`http://127.0.0.1:${metricsPort}/metrics`)).body.text();
  const line = text.split("\n").find((l) => l.startsWith("nexus_http_active_connections "));
  return Number(line?.split(" ")[1] ?? Number.NaN);
}

const dir = await mkdtemp(join(tmpdir(), "nexus-bench-connections-"));
const backend = createServer((_req, res) => res.end("ok"));
backend.listen(0, "127.0.0.1");
await once(backend, "listening");
const clients: ChildProcess[] = [];
let result: Record<string, unknown>;
try {
  const proxyWorkers = Math.ceil(target / perProcess);
  const port = await freePort();
  const metricsPort = await freePort();
  const config = join(dir, "proxy.yaml");
  await writeFile(
    config,
    `workers: ${proxyWorkers}
workerNodeOptions: [${semiSpace > 0 ? `--max-semi-space-size=${semiSpace}` : ""}]
drainTimeoutMs: 5000
listeners:
  - protocol: http
    port: ${port}
    limits: { keepAliveTimeoutMs: 3600000, idleTimeoutMs: 0, headersTimeoutMs: 60000 }
resolver:
  routes:
    ${HOST}: 127.0.0.1:${(backend.address() as { port: number }).port}
ssrf: { allow: [127.0.0.0/8] }
metrics: { port: ${metricsPort} }
`,
  );
  const proxy = startProcess(process.execPath, [await proxyCommandScript(dir), "--config", config]);
  await waitForPort(port);
  await waitForPort(metricsPort);
  // Warm every worker so that the baseline includes loaded code and pools.
  for (let i = 0; i < 200; i++) {
    const response = await request(`http://127.0.0.1:${port}/`, {
      headers: { host: HOST, connection: "close" },
    });
    await response.body.text();
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const baselineRss = await treeRss(proxy.pid!);
  console.log(
    `proxy: ${proxyWorkers} workers, baseline RSS ${(baselineRss / 2 ** 20).toFixed(1)} MiB`,
  );

  const started = performance.now();
  const loads = Math.ceil(target / perProcess);
  const reports = await Promise.all(
    Array.from({ length: loads }, async (_, i) => {
      const count = Math.min(perProcess, target - i * perProcess);
      const child = fork(CLIENT, [String(port), `127.0.0.${10 + i}`, String(count), HOST], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      clients.push(child);
      const [report] = (await once(child, "message")) as [
        { held: number; failures: Record<string, number> },
      ];
      return report;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const heldByClients = reports.reduce((sum, r) => sum + r.held, 0);
  const failures: Record<string, number> = {};
  for (const report of reports) {
    for (const [reason, count] of Object.entries(report.failures)) {
      failures[reason] = (failures[reason] ?? 0) + count;
    }
  }
  const failed = Object.values(failures).reduce((sum, n) => sum + n, 0);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const held = await activeConnections(metricsPort);
  const rss = await treeRss(proxy.pid!);
  const perConnection = (rss - baselineRss) / held;
  result = {
    held,
    held_by_clients: heldByClients,
    failed,
    failures,
    target,
    seconds_to_open: Number(seconds.toFixed(1)),
    proxy_workers: proxyWorkers,
    worker_node_options: semiSpace > 0 ? [`--max-semi-space-size=${semiSpace}`] : [],
    proxy_rss_baseline_bytes: baselineRss,
    proxy_rss_bytes: rss,
    bytes_per_connection: Math.round(perConnection),
  };
  console.log(result);
} finally {
  for (const child of clients) child.send("stop");
  await Promise.all(clients.map((child) => (child.exitCode === null ? once(child, "exit") : null)));
  await stopAll();
  backend.close();
  await rm(dir, { recursive: true, force: true });
}

await writeResults("connections", {
  benchmark: "idle proxied HTTP keep-alive connections held by Nexus",
  date: new Date().toISOString(),
  machine: { ...machine(), fd_limit_per_process: perProcess },
  note: "memory per connection = (proxy RSS with the connections - RSS before) / connections held; RSS summed over the supervisor and its workers; kernel socket memory is not included",
  ...result,
  targets: { held: 100_000, bytes_per_connection: 16 * 1024 },
});
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const table = markdownTable(
  [
    "connections held",
    "target",
    "failed",
    "proxy workers",
    "worker V8 options",
    "proxy RSS before → after",
    "per connection",
  ],
  [
    [
      Number(result.held).toLocaleString("en-US"),
      target.toLocaleString("en-US"),
      String(result.failed),
      String(result.proxy_workers),
      semiSpace > 0 ? `\`--max-semi-space-size=${semiSpace}\`` : "defaults",
      `${(Number(result.proxy_rss_baseline_bytes) / 2 ** 20).toFixed(0)} MiB → ${(Number(result.proxy_rss_bytes) / 2 ** 20).toFixed(0)} MiB`,
      kib(Number(result.bytes_per_connection)),
    ],
  ],
);
const summary = `Target: 100,000 held at ≤ 16 KiB each (the original design claims ~33 KB). ${machine().cpus} CPUs, ${new Date().toISOString().slice(0, 10)}.`;
await publishTable("docs/http-proxy.md", "connections", table, summary);
