import assert from "node:assert/strict";
import { rm, stat } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "undici";
import { parseConfig } from "../../src/orchestrator/config-file.ts";
import { ServiceSupervisor } from "../../src/orchestrator/service-supervisor.ts";
import { ensureSocketDir, loadOrCreateToken, tokenPathFor } from "../../src/security/index.ts";
import { eventually, runOrchestrator, tempDir, workerService } from "./harness.ts";

type Pid = { pid: number };

/** Resolves once a connection to `path` is accepted; rejects with the connect error. */
function canConnect(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}

test("an on-demand service woken by the proxy keeps its socket after an idle stop", async () => {
  await using run = await runOrchestrator({
    services: { lazy: workerService("lazy", { onDemand: { idleMs: 1000 } }) },
    gateway: { port: 0 },
  });
  const supervisor = run.orchestrator.supervisors.get("lazy")!;
  const socketPath = join(run.dir, "sockets", "lazy.sock");
  assert.equal(supervisor.status, "sleeping");
  // As the proxy's resolver does: a wake-up that did not come through the socket.
  await supervisor.wake();
  assert.equal(supervisor.status, "running");
  await eventually("idle stop", () => supervisor.status === "sleeping");
  await stat(socketPath);
  await canConnect(socketPath);
  const response = await request(`${run.orchestrator.gatewayUrl}/lazy/public`);
  assert.equal(response.statusCode, 200);
  assert.deepEqual(await response.body.json(), { open: true });
  assert.equal(supervisor.status, "running");
  const answer = (await run.client.request("lazy", "GET", "/pid")) as Pid;
  assert.equal(answer.pid, supervisor.snapshot().instances[0]!.pid);
});

test("after a stop, a reload or a wake-up starts nothing", async () => {
  await using run = await runOrchestrator({
    services: {
      api: workerService("api"),
      lazy: workerService("lazy", { onDemand: { idleMs: 60_000 } }),
    },
  });
  await run.orchestrator.stop();
  await assert.rejects(run.orchestrator.reload(), /stopping/);
  const [api, lazy] = [...run.orchestrator.supervisors.values()];
  await assert.rejects(api!.reload(), /api is stopped/);
  await assert.rejects(lazy!.wake(), /lazy is stopped/);
  for (const service of run.orchestrator.status()) {
    assert.equal(service.status, "stopped");
    assert.deepEqual(service.instances, []);
  }
});

test("an on-demand service started by a reload still sleeps when idle", async () => {
  const dir = await tempDir("on-demand-reload");
  const socketDir = join(dir, "sockets");
  const config = parseConfig(
    {
      services: { lazy: workerService("lazy", { onDemand: { idleMs: 1000 } }) },
      socketDir,
      logs: { dir: join(dir, "logs") },
    },
    join(dir, "nexus.config.ts"),
  );
  const supervisor = new ServiceSupervisor({
    name: "lazy",
    config: config.services.lazy!,
    socketDir,
    tokenFile: undefined,
    logs: config.logs,
    onEvent: () => {},
  });
  try {
    // No socket directory yet: the start cannot take the socket and leaves the service stopped.
    await assert.rejects(supervisor.start());
    assert.equal(supervisor.status, "stopped");
    await ensureSocketDir(socketDir);
    await loadOrCreateToken(tokenPathFor(socketDir));
    await supervisor.reload();
    assert.equal(supervisor.status, "sleeping");
    await supervisor.wake();
    await eventually("idle stop", () => supervisor.status === "sleeping");
  } finally {
    await supervisor.stop();
    supervisor.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a client that sends one line and half-closes gets its answer through a wake-up", async () => {
  await using run = await runOrchestrator({
    services: { lazy: workerService("lazy", { onDemand: { idleMs: 60_000 } }) },
  });
  const supervisor = run.orchestrator.supervisors.get("lazy")!;
  assert.equal(supervisor.status, "sleeping");
  // What `echo '{…}' | socat - UNIX-CONNECT:…` does: write, shut the sending side, read.
  const socket = connect(join(run.dir, "sockets", "lazy.sock"));
  socket.end(`${JSON.stringify({ path: "/public", method: "GET" })}\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const reply = JSON.parse(Buffer.concat(chunks).toString("utf8").trim()) as { data?: unknown };
  assert.deepEqual(reply.data, { open: true });
  assert.equal(supervisor.status, "running");
});
