import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  broken,
  eventually,
  runOrchestrator,
  tempDir,
  underConstantLoad,
  worker,
  workerService,
} from "./harness.ts";

type Pid = { pid: number };

const serviceModule = fileURLToPath(new URL("../../src/service/index.ts", import.meta.url));

const scratchDirs: string[] = [];
after(() => Promise.all(scratchDirs.map((d) => rm(d, { recursive: true, force: true }))));

async function scratch(prefix: string): Promise<string> {
  const dir = await tempDir(prefix);
  scratchDirs.push(dir);
  return dir;
}

test("an instance killed with SIGKILL is restarted and the restart is counted", async () => {
  await using run = await runOrchestrator({ services: { w: workerService("w") } });
  const before = (await run.client.request("w", "GET", "/pid")) as Pid;
  process.kill(before.pid, "SIGKILL");
  const after = await eventually("a new instance", () => {
    const [w] = run.orchestrator.status();
    const pid = w?.instances[0]?.pid;
    return w?.status === "running" && pid !== before.pid && w;
  });
  assert.equal(after.restarts, 1);
  const answer = (await run.client.request("w", "GET", "/pid")) as Pid;
  assert.equal(answer.pid, after.instances[0]!.pid);
  assert.ok(
    run.events.some((e) => e.includes("exited: killed by SIGKILL")),
    run.events.join("\n"),
  );
});

test("a service that keeps failing is errored, with the reason and its last output", async () => {
  await using run = await runOrchestrator({
    services: { bad: { entry: broken, restart: { maxRestarts: 3, windowMs: 60_000 } } },
  });
  const [bad] = run.orchestrator.status();
  assert.equal(bad!.status, "errored");
  assert.match(bad!.reason!, /startup failed on purpose; exited 4 times within 60000 ms/);
  assert.equal(bad!.restarts, 3);
  assert.ok(bad!.lastLines.includes("broken: cannot reach the database at db.invalid"));
  assert.equal(bad!.instances.length, 0);
});

test("services start in dependsOn order and stop in reverse; a failed dependency blocks dependents", async () => {
  const dir = await scratch("order");
  const orderFile = join(dir, "order.txt");
  const env = { ORDER_FILE: orderFile };
  {
    await using run = await runOrchestrator({
      services: {
        web: workerService("web", { env, dependsOn: ["api"] }),
        api: workerService("api", { env, dependsOn: ["db"] }),
        db: workerService("db", { env }),
        bad: { entry: broken, restart: { policy: "never" } },
        after: workerService("after", { env, dependsOn: ["bad"] }),
      },
    });
    const status = Object.fromEntries(run.orchestrator.status().map((s) => [s.name, s.status]));
    assert.deepEqual(status, {
      web: "running",
      api: "running",
      db: "running",
      bad: "errored",
      after: "stopped",
    });
  }
  const lines = (await readFile(orderFile, "utf8")).trim().split("\n");
  assert.deepEqual(lines, [
    "db start",
    "api start",
    "web start",
    "web stop",
    "api stop",
    "db stop",
  ]);
});

test("an on-demand service starts on its first call and sleeps again when idle", async () => {
  await using run = await runOrchestrator({
    services: { lazy: workerService("lazy", { onDemand: { idleMs: 1500 } }) },
  });
  const status = () => run.orchestrator.status()[0]!;
  assert.equal(status().status, "sleeping");
  assert.equal(status().instances.length, 0);
  const first = (await run.client.request("lazy", "GET", "/pid")) as Pid;
  assert.equal(status().status, "running");
  assert.equal(status().instances[0]!.pid, first.pid);
  await eventually("idle stop", () => status().status === "sleeping");
  assert.equal(status().instances.length, 0);
  // Asleep again, the socket still answers: the next call wakes a new process.
  const second = (await run.client.request("lazy", "GET", "/pid")) as Pid;
  assert.notEqual(second.pid, first.pid);
});

test("activity reported from outside keeps an on-demand service awake", async () => {
  await using run = await runOrchestrator({
    services: { kept: workerService("kept", { onDemand: { idleMs: 3000 } }) },
  });
  const supervisor = run.orchestrator.supervisors.get("kept")!;
  await run.client.request("kept", "GET", "/pid");
  const keepAlive = setInterval(() => supervisor.recordActivity(), 200);
  try {
    await sleep(6000);
    assert.equal(supervisor.status, "running");
  } finally {
    clearInterval(keepAlive);
  }
  await eventually("idle stop once the activity ends", () => supervisor.status === "sleeping");
});

test("a caller waits for an on-demand start at most its startTimeoutMs", async () => {
  await using run = await runOrchestrator({
    services: {
      sluggish: workerService("sluggish", {
        env: { START_DELAY_MS: "4000" },
        onDemand: { idleMs: 60_000, startTimeoutMs: 300 },
      }),
    },
  });
  // A raw JSON-lines caller: its connection is closed unanswered once the limit passes.
  const socket = connect(join(run.dir, "sockets", "sluggish.sock"));
  socket.end('{"path":"/pid","method":"GET"}\n');
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString();
  });
  socket.on("error", () => {}); // a reset: the supervisor closed it with the request unread
  await new Promise((resolve) => socket.once("close", resolve));
  assert.equal(received, "");
  assert.notEqual(run.orchestrator.status()[0]!.status, "running");
  // The start goes on without the caller that gave up.
  await eventually(
    "the slow start to finish",
    () => run.orchestrator.status()[0]!.status === "running",
  );
  assert.ok(((await run.client.request("sluggish", "GET", "/pid")) as Pid).pid > 0);
});

test("calls balance across instances by requests in flight", async () => {
  await using run = await runOrchestrator({
    services: { multi: workerService("multi", { instances: 3 }) },
  });
  assert.equal(run.orchestrator.status()[0]!.instances.length, 3);
  // After a first call has found the instances, one turn of the event loop
  // between calls lets each count as in flight before the next one picks.
  await run.client.request("multi", "GET", "/pid");
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < 9; i += 1) {
    calls.push(run.client.request("multi", "GET", "/slow/300"));
    await setImmediate();
  }
  const answers = (await Promise.all(calls)) as Pid[];
  assert.equal(new Set(answers.map((a) => a.pid)).size, 3);
});

test("a rolling reload under constant load fails no request", async () => {
  await using run = await runOrchestrator({
    services: { steady: workerService("steady", { instances: 2 }) },
  });
  const before = new Set(run.orchestrator.status()[0]!.instances.map((i) => i.pid));
  const pids = new Set<number>();
  const { failures } = await underConstantLoad(
    async () => pids.add(((await run.client.request("steady", "GET", "/slow/5")) as Pid).pid),
    async () => {
      await run.orchestrator.reload("steady");
      await run.orchestrator.reload("steady");
    },
  );
  assert.deepEqual(failures, []);
  const now = run.orchestrator.status()[0]!;
  assert.equal(now.status, "running");
  assert.ok(
    now.instances.every((i) => !before.has(i.pid)),
    "every instance was replaced",
  );
  assert.ok(pids.size >= 4, `answers came from old and new processes (${pids.size})`);
});

test("a reload whose new process fails leaves the old one serving", async () => {
  const dir = await scratch("deploy");
  const entry = join(dir, "flip.ts");
  await writeFile(entry, `export { default } from ${JSON.stringify(worker)};\n`);
  await using run = await runOrchestrator({
    services: { flip: { entry, env: { FIXTURE_NAME: "flip" } } },
  });
  const before = (await run.client.request("flip", "GET", "/pid")) as Pid;
  await writeFile(entry, 'throw new Error("bad deploy");\n');
  await assert.rejects(run.orchestrator.reload("flip"), /reload of flip@0 failed: bad deploy/);
  const [flip] = run.orchestrator.status();
  assert.equal(flip!.status, "running");
  assert.equal(flip!.instances[0]!.pid, before.pid);
  assert.deepEqual(await run.client.request("flip", "GET", "/pid"), before);
});

test("logs are written per service and rotated by size", async () => {
  await using run = await runOrchestrator({
    services: { chatty: workerService("chatty") },
    logs: { maxBytes: 2048, keep: 2 },
  });
  for (let i = 0; i < 40; i += 1) {
    await run.client.request("chatty", "GET", `/say/hello-${i}`);
  }
  // The service logs each line asynchronously through its own stdout pipe, so
  // a response can arrive before the line it logged: wait for the last line.
  const logs = join(run.dir, "logs");
  const current = await eventually("the last line in the current file", async () => {
    const text = await readFile(join(logs, "chatty.log"), "utf8");
    return text.includes("hello-39") && text;
  });
  assert.deepEqual((await readdir(logs)).sort(), ["chatty.log", "chatty.log.1", "chatty.log.2"]);
  // Oldest to newest, the kept files stay within maxBytes and hold an unbroken
  // run of lines ending at the last: rotation loses none.
  const kept = await Promise.all(
    ["chatty.log.2", "chatty.log.1"].map((name) => readFile(join(logs, name), "utf8")),
  );
  kept.push(current);
  for (const text of kept) assert.ok(Buffer.byteLength(text) <= 2048);
  const said = [...kept.join("").matchAll(/hello-(\d+)/g)].map((m) => Number(m[1]));
  const first = said[0]!;
  assert.deepEqual(
    said,
    Array.from({ length: 40 - first }, (_, i) => first + i),
  );
  assert.ok(said.length > 20, `only ${said.length} lines kept`);
});

test("output a service writes as it exits reaches its log file, to the last line", async () => {
  const dir = await scratch("farewell");
  const entry = join(dir, "farewell.ts");
  // More than a pipe holds, so much of it is still in transit when the host
  // exits and the orchestrator closes the log.
  await writeFile(
    entry,
    `import { defineService } from ${JSON.stringify(serviceModule)};
export default defineService({
  name: "farewell",
  stop: async () => {
    for (let i = 0; i < 5000; i += 1) process.stdout.write(\`farewell-\${i} \${"-".repeat(80)}\\n\`);
  },
}).route("GET /pid", () => ({ pid: process.pid }));
`,
  );
  const run = await runOrchestrator({
    services: { farewell: { entry } },
    logs: { dir, maxBytes: 100_000_000, keep: 1 },
  });
  await run.client.request("farewell", "GET", "/pid");
  await run[Symbol.asyncDispose]();
  const text = await readFile(join(dir, "farewell.log"), "utf8");
  assert.match(text, /farewell-4999 /);
});
