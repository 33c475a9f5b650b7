import assert from "node:assert/strict";
import { once } from "node:events";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pino from "pino";
import { sendControl } from "../../src/cli/control-client.ts";
import type { ServiceSnapshot } from "../../src/orchestrator/service-supervisor.ts";
import { Client } from "../../src/transport/index.ts";
import { eventually, tempDir } from "../orchestrator/harness.ts";
import {
  isAlive,
  killStragglers,
  nexus,
  spawnNexus,
  type UpProcess,
  up,
  workerEntry,
  writeConfig,
} from "./nexus-process.ts";

const dirs: string[] = [];
after(async () => {
  killStragglers();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function setUp(services: Record<string, unknown>) {
  const dir = await tempDir("cli");
  dirs.push(dir);
  const socketDir = join(dir, "sockets");
  const config = await writeConfig(dir, { socketDir, logs: { dir: join(dir, "logs") }, services });
  return { dir, socketDir, config, at: ["--socket-dir", socketDir] };
}

function worker(name: string, extra: Record<string, unknown> = {}) {
  return { entry: workerEntry, env: { FIXTURE_NAME: name }, ...extra };
}

async function status(socketDir: string): Promise<ServiceSnapshot[]> {
  return (await sendControl(socketDir, { command: "status" })) as ServiceSnapshot[];
}

const pidsOf = (services: ServiceSnapshot[]) =>
  services.flatMap((s) => s.instances.map((i) => i.pid!));

// Each command runs as its own process; on a loaded machine the whole suite takes a while.
describe("every command against a running orchestrator", { timeout: 300_000 }, () => {
  let socketDir: string;
  let at: string[];
  let running: UpProcess;
  let initial: ServiceSnapshot[];

  before(async () => {
    const setup = await setUp({ alpha: worker("alpha"), beta: worker("beta", { instances: 2 }) });
    ({ socketDir, at } = setup);
    running = await up(setup.config);
    initial = await status(socketDir);
  });
  after(() => {
    if (running.child.exitCode === null) running.child.kill("SIGKILL");
  });

  test("status prints a table, or JSON", async () => {
    const table = await nexus(["status", ...at]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^SERVICE\s+STATUS\s+PID/);
    assert.match(table.stdout, /\nbeta@1\s+running\s+\d+/);
    const json = JSON.parse((await nexus(["status", "--json", ...at])).stdout) as ServiceSnapshot[];
    assert.deepEqual(
      json.map((s) => [s.name, s.status, s.instances.length]),
      [
        ["alpha", "running", 1],
        ["beta", "running", 2],
      ],
    );
  });

  test("call prints results, and errors with their code", async () => {
    const said = await nexus(["call", "alpha", "GET", "/say/hello", ...at]);
    assert.equal(said.code, 0, said.stderr);
    assert.deepEqual(JSON.parse(said.stdout), { said: "hello" });
    const echoed = await nexus(["call", "alpha", "POST", "/echo", "--data", '{"a":[1,2]}', ...at]);
    assert.deepEqual(JSON.parse(echoed.stdout), { a: [1, 2] });
    const notFound = await nexus(["call", "alpha", "GET", "/nowhere", ...at]);
    assert.equal(notFound.code, 1);
    assert.match(notFound.stderr, /^NOT_FOUND: /);
    const ghost = await nexus(["call", "ghost", "GET", "/x", ...at]);
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /^UNAVAILABLE: service ghost is not running/);
    const badJson = await nexus(["call", "alpha", "POST", "/echo", "--data", "{oops", ...at]);
    assert.equal(badJson.code, 2);
    assert.match(badJson.stderr, /--data is not valid JSON/);
    const badMethod = await nexus(["call", "alpha", "FETCH", "/x", ...at]);
    assert.equal(badMethod.code, 2);
    assert.match(badMethod.stderr, /unknown method "FETCH"/);
  });

  test("reload replaces a service's process; an unknown service is named", async () => {
    const reloaded = await nexus(["reload", "alpha", ...at]);
    assert.equal(reloaded.code, 0, reloaded.stderr);
    assert.equal(reloaded.stdout, "reloaded alpha\n");
    const alpha = (await status(socketDir))[0]!;
    assert.equal(alpha.status, "running");
    assert.notEqual(alpha.instances[0]!.pid, initial[0]!.instances[0]!.pid);
    const unknown = await nexus(["reload", "ghost", ...at]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /unknown service "ghost" \(services are: alpha, beta\)/);
  });

  test("logs prints a service's output and supervisor events, and follows it", async () => {
    await nexus(["call", "beta", "GET", "/say/hello", ...at]);
    const logs = await nexus(["logs", "beta", "-n", "200", ...at]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /"words":"hello"/);
    assert.match(logs.stdout, /\[nexus\] .* running/);

    const follower = spawnNexus(["logs", "beta", "-f", "-n", "0", ...at]);
    let followed = "";
    follower.stdout.on("data", (chunk: Buffer) => {
      followed += chunk.toString();
    });
    // The follower polls the file; keep calling until a line reaches it.
    await eventually("a followed line", async () => {
      await nexus(["call", "beta", "GET", "/say/followed", ...at]);
      return followed.includes('"words":"followed"');
    });
    follower.kill("SIGINT");
    const [code] = await once(follower, "exit");
    assert.equal(code, 0);
  });

  test("token prints the token file's secret", async () => {
    const token = await nexus(["token", ...at]);
    assert.equal(token.stdout.trim(), (await readFile(join(socketDir, "token"), "utf8")).trim());
  });

  test("stop drains everything and leaves no process or socket; then no orchestrator runs", async () => {
    const pids = pidsOf(await status(socketDir));
    const stopped = await nexus(["stop", ...at]);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(await running.exited, 0);
    assert.match(running.output(), /stopped: every instance drained/);
    assert.deepEqual(pids.filter(isAlive), []);
    assert.deepEqual(await readdir(socketDir), ["token"]);
    const none = await nexus(["status", ...at]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no orchestrator is running .*; start one with: nexus up/);
  });
});

test("--help works on every command", async () => {
  for (const command of ["up", "status", "call", "reload", "stop", "logs", "token"]) {
    const help = await nexus([command, "--help"]);
    assert.equal(help.code, 0);
    assert.ok(help.stdout.startsWith(`Usage: nexus ${command}`), help.stdout);
  }
  const proxyHelp = await nexus(["proxy", "--help"]);
  assert.equal(proxyHelp.code, 0);
  assert.match(proxyHelp.stdout, /nexus proxy --config/);
  const overview = await nexus(["--help"]);
  assert.match(overview.stdout, /Commands:\n {2}up/);
  assert.equal((await nexus(["bogus"])).code, 2);
});

const clients: Client[] = [];
after(() => Promise.all(clients.map((c) => c.close())));

/** Runs `nexus up` with one worker service and waits until `count` calls to `path` are in flight. */
async function upWithCallsInFlight(
  name: string,
  extra: Record<string, unknown>,
  count: number,
  path: string,
) {
  const { socketDir, config } = await setUp({ [name]: worker(name, extra) });
  const running = await up(config);
  const client = new Client({ socketDir, log: pino({ level: "silent" }) });
  clients.push(client);
  const calls = Array.from({ length: count }, () => client.request(name, "GET", path));
  await eventually(`${count} request(s) in flight`, async () => {
    const [service] = await status(socketDir);
    return service!.instances.reduce((n, i) => n + i.inFlight, 0) >= count;
  });
  return { running, calls, socketDir, pids: pidsOf(await status(socketDir)) };
}

test("SIGTERM lets requests in flight finish, then everything exits", async () => {
  const { running, calls, socketDir, pids } = await upWithCallsInFlight(
    "slow",
    { instances: 2 },
    4,
    "/slow/6000",
  );
  running.child.kill("SIGTERM");
  const answers = (await Promise.all(calls)) as { waited: number }[];
  assert.deepEqual(
    answers.map((a) => a.waited),
    [6000, 6000, 6000, 6000],
  );
  assert.equal(await running.exited, 0);
  assert.deepEqual(pids.filter(isAlive), []);
  assert.deepEqual(await readdir(socketDir), ["token"]);
});

test("a request outliving the stop deadline is cut, and the exit code says so", async () => {
  const { running, calls } = await upWithCallsInFlight(
    "stuck",
    { stopTimeoutMs: 500 },
    1,
    "/slow/20000",
  );
  running.child.kill("SIGTERM");
  await assert.rejects(calls[0]!);
  assert.equal(await running.exited, 1);
  assert.match(running.output(), /stopped: 1 instance\(s\) did not drain in time/);
});

test("a second Ctrl-C exits at once; services still finish their requests", async () => {
  const { running, calls, pids } = await upWithCallsInFlight(
    "slow",
    { stopTimeoutMs: 20_000 },
    1,
    "/slow/5000",
  );
  running.child.kill("SIGINT");
  await running.waitFor("Ctrl-C again to exit now");
  running.child.kill("SIGINT");
  assert.equal(await running.exited, 1);
  assert.deepEqual(await calls[0], { waited: 5000, pid: pids[0] });
  await eventually("the service to exit", () => !isAlive(pids[0]!));
});

test("services exit when the orchestrator is killed outright (no orphans)", async () => {
  const { socketDir, config } = await setUp({ a: worker("a"), b: worker("b", { instances: 2 }) });
  const running = await up(config);
  const pids = pidsOf(await status(socketDir));
  assert.equal(pids.length, 3);
  running.child.kill("SIGKILL");
  await running.exited;
  await eventually("every service process to exit", () => pids.every((pid) => !isAlive(pid)));
});

test("a second orchestrator is refused; SIGHUP reloads; a bad config is reported", async () => {
  const { config, dir, socketDir } = await setUp({ a: worker("a") });
  const running = await up(config);
  try {
    const second = await nexus(["up", config]);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /an orchestrator is already running/);
    // SIGHUP reloads: the service gets a new process.
    const [before] = pidsOf(await status(socketDir));
    running.child.kill("SIGHUP");
    await eventually("a reloaded process", async () => {
      const [a] = await status(socketDir);
      return a!.status === "running" && a!.instances[0]!.pid !== before;
    });
  } finally {
    running.child.kill("SIGTERM");
    assert.equal(await running.exited, 0);
  }
  const bad = await writeConfig(dir, { services: { a: { entry: workerEntry, instances: 0 } } });
  const result = await nexus(["up", bad]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /services\.a\.instances: Too small: expected number to be >=1/);
});
