import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import pg from "pg";
import { Agent, request } from "undici";
import { postgres, requireService } from "../support/services.ts";
import { type Backend, startBackend } from "./harness.ts";

const CLI = new URL("../../src/proxy/cli.ts", import.meta.url).href;

let dir: string;
/** A script that runs `nexus proxy` with its arguments (cluster workers need a real entry file). */
let script: string;
let fast: Backend;
let slow: Backend;
let releaseSlow: () => void = () => {};
let slowArrived: () => void = () => {};
const slowSeen = new Promise<void>((resolve) => {
  slowArrived = resolve;
});

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nexus-proxy-cmd-"));
  script = join(dir, "nexus-proxy.mjs");
  await writeFile(
    script,
    `import { runProxyCommand } from ${JSON.stringify(CLI)};\nprocess.exitCode = await runProxyCommand(process.argv.slice(2));\n`,
  );
  fast = await startBackend((_req, res) => res.end(`fast`));
  slow = await startBackend((_req, res) => {
    res.writeHead(200);
    res.write("slow ");
    slowArrived();
    releaseSlow = () => res.end("done");
  });
});
after(async () => {
  await fast.close();
  await slow.close();
  await rm(dir, { recursive: true, force: true });
});

interface Started {
  readonly child: ChildProcess;
  /** The supervisor's "proxy started" log line. */
  readonly started: Record<string, unknown>;
  readonly port: number;
  readonly metricsPort: number;
  readonly logs: Record<string, unknown>[];
  nextLog(message: string): Promise<Record<string, unknown>>;
}

async function startCommand(args: string[]): Promise<Started> {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { message: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stdout! }).on("line", (text) => {
    const line = JSON.parse(text) as Record<string, unknown>;
    logs.push(line);
    for (const waiter of waiters.splice(0)) {
      if (line.msg === waiter.message) waiter.resolve(line);
      else waiters.push(waiter);
    }
  });
  const nextLog = (message: string) =>
    new Promise<Record<string, unknown>>((resolve) => waiters.push({ message, resolve }));
  const exited = once(child, "exit").then(([code]) => {
    throw new Error(`nexus proxy exited with ${code} before it started`);
  });
  const started = await Promise.race([nextLog("proxy started"), exited]);
  exited.catch(() => {});
  const listeners = started.listeners as { port: number }[];
  return {
    child,
    started,
    port: listeners[0]!.port,
    metricsPort: started.metrics as number,
    logs,
    nextLog,
  };
}

test("--check validates a file and a broken one fails with its reason", async () => {
  const good = join(dir, "good.yaml");
  await writeFile(good, "listeners: [{ protocol: http, port: 0 }]\nresolver: { routes: {} }\n");
  const bad = join(dir, "bad.yaml");
  await writeFile(bad, "listeners: []\nresolver: { routes: {} }\n");
  const run = async (file: string) => {
    const child = spawn(process.execPath, [script, "--config", file, "--check"]);
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const [code] = await once(child, "exit");
    return { code, output };
  };
  const ok = await run(good);
  assert.equal(ok.code, 0);
  assert.match(ok.output, /valid \(http:\/\/127\.0\.0\.1:0\)/);
  const refused = await run(bad);
  assert.equal(refused.code, 1);
  assert.match(refused.output, /listeners/);
});

test("two workers share the port, /metrics sums them, SIGHUP reloads (a bad file changes nothing) and SIGTERM drains", async () => {
  const path = join(dir, "proxy.yaml");
  const write = (routes: string) =>
    writeFile(
      path,
      `workers: 2
drainTimeoutMs: 20000
listeners:
  - protocol: http
    port: 0
resolver:
  routes:
${routes}
ssrf: { allow: [127.0.0.0/8] }
metrics: { port: 0 }
`,
    );
  await write(`    fast.test: ${fast.endpoint}\n    slow.test: ${slow.endpoint}`);
  const proxy = await startCommand(["--config", path]);
  const agent = new Agent({ pipelining: 0 });
  const url = `http://127.0.0.1:${proxy.port}/`;
  try {
    const pid = proxy.child.pid;
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
    assert.equal(children.trim().split(/\s+/).length, 2, "two worker processes");
    for (let i = 0; i < 40; i++) {
      const response = await request(url, { headers: { host: "fast.test", connection: "close" } });
      assert.equal(await response.body.text(), "fast");
    }
    const metrics = await (
      await request(`http://127.0.0.1:${proxy.metricsPort}/metrics`)
    ).body.text();
    const sumOf = (prefix: string, also = "") =>
      metrics
        .split("\n")
        .filter(
          (line) =>
            line.startsWith(prefix) && line.includes('route="fast.test"') && line.includes(also),
        )
        .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
    assert.equal(sumOf("nexus_http_requests_total{"), 40);
    // The duration histogram, summed over both workers.
    assert.equal(sumOf("nexus_http_request_duration_seconds_count{"), 40);
    assert.equal(sumOf("nexus_http_request_duration_seconds_bucket{", 'le="+Inf"'), 40);
    assert.match(metrics, /# TYPE nexus_http_request_duration_seconds histogram/);

    await write(
      `    fast.test: ${slow.endpoint}\n    slow.test: ${slow.endpoint}\n    new.test: ${fast.endpoint}`,
    );
    const reloaded = proxy.nextLog("config reloaded");
    proxy.child.kill("SIGHUP");
    await reloaded;
    const added = await request(url, { headers: { host: "new.test" }, dispatcher: agent });
    assert.equal(await added.body.text(), "fast");

    // A request in flight when SIGTERM arrives still completes.
    const pending = request(url, { headers: { host: "slow.test" }, dispatcher: agent });
    await slowSeen;
    const exited = once(proxy.child, "exit");
    proxy.child.kill("SIGTERM");
    await proxy.nextLog("draining");
    releaseSlow();
    const response = await pending;
    assert.equal(await response.body.text(), "slow done");
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    await agent.close();
    if (proxy.child.exitCode === null) proxy.child.kill("SIGKILL");
  }
});

test("with two workers a PostgreSQL cancel reaches the session on the other worker", async () => {
  await requireService(postgres);
  const path = join(dir, "postgres.yaml");
  await writeFile(
    path,
    `workers: 2
listeners:
  - { protocol: http, port: 0 }
  - { protocol: postgres, port: 0 }
resolver: { routes: { postgres: ${postgres.host}:${postgres.port} } }
ssrf: { allow: [127.0.0.0/8] }
`,
  );
  const proxy = await startCommand(["--config", path]);
  const { port } = (proxy.started.listeners as { protocol: string; port: number }[]).find(
    (listener) => listener.protocol === "postgres",
  )!;
  const settings = { host: "127.0.0.1", port, user: "postgres", database: "postgres" };
  const observer = new pg.Client({ ...settings, port: postgres.port });
  await observer.connect();
  try {
    // The primary hands connections to the workers in turn, so a session and
    // its cancel request land on different workers.
    for (let round = 0; round < 4; round++) {
      const marker = `nexus_cancel_${round}`;
      const client = new pg.Client(settings);
      await client.connect();
      const query = client.query(`SELECT pg_sleep(60) AS ${marker}`);
      const outcome = query.then(
        () => "finished",
        (error: { code?: string }) => error.code,
      );
      await runningQuery(observer, marker);
      const canceller = new pg.Client(settings) as unknown as {
        cancel(client: pg.Client, query: unknown): void;
      };
      canceller.cancel(client, (client as unknown as { activeQuery: unknown }).activeQuery);
      assert.equal(await outcome, "57014");
      await client.end();
    }
  } finally {
    await observer.end();
    const exited = once(proxy.child, "exit");
    proxy.child.kill("SIGTERM");
    await exited;
  }
});

/** Resolves once PostgreSQL runs a query containing `marker`. */
async function runningQuery(observer: pg.Client, marker: string): Promise<void> {
  for (;;) {
    const { rows } = await observer.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
      [`%${marker}%`],
    );
    if ((rows[0] as { n: number }).n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
