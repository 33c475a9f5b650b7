import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { request } from "undici";
import { eventually, runOrchestrator, workerService } from "./harness.ts";

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
