// One configuration runs the whole system: `nexus up` with services, the
// gateway and a proxy listener; a request through the proxy wakes an
// on-demand service, and `nexus status` shows routes and cold starts.
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { Pool } from "undici";
import type { ServiceReport } from "../../src/orchestrator/orchestrator.ts";
import { killStragglers, nexus, up, writeConfig } from "../cli/nexus-process.ts";
import { tempDir } from "../orchestrator/harness.ts";
import { appService, get, pidOf } from "./harness.ts";

after(killStragglers);

test("nexus up serves services through the proxy; status shows routes and cold starts", async () => {
  const dir = await tempDir("system");
  const socketDir = join(dir, "sockets");
  const config = await writeConfig(dir, {
    socketDir,
    logs: { dir: join(dir, "logs") },
    services: {
      users: appService("users"),
      lazy: appService("lazy", { onDemand: { idleMs: 60_000 } }),
    },
    gateway: { port: 0 },
    proxy: { listeners: [{ port: 0 }], hosts: { "shop.example.test": "lazy" } },
  });
  const running = await up(config);
  const proxyUrl = /proxy\s+(http:\/\/\S+)/.exec(running.output())?.[1];
  assert.ok(proxyUrl, running.output());
  const client = new Pool(proxyUrl);
  try {
    const woken = await get(client, "shop.example.test", "/pid");
    assert.ok(pidOf(woken) > 0);
    assert.ok(Number(woken.headers["x-nexus-cold-start-ms"]) > 0, "the request waited for a start");
    assert.ok(pidOf(await get(client, "users.localhost", "/pid")) > 0);

    const json = await nexus(["status", "--json", "--socket-dir", socketDir]);
    const services = JSON.parse(json.stdout) as ServiceReport[];
    const lazy = services.find((s) => s.name === "lazy")!;
    const port = new URL(proxyUrl).port;
    assert.equal(lazy.status, "running");
    assert.equal(lazy.coldStarts, 1);
    assert.deepEqual(lazy.routes, [
      `http://shop.example.test:${port}`,
      `http://lazy.localhost:${port}`,
    ]);
    const table = await nexus(["status", "--socket-dir", socketDir]);
    assert.match(table.stdout, /^ROUTE\s+SERVICE\s+STATUS\s+COLD STARTS$/m);
    assert.match(
      table.stdout,
      new RegExp(`^http://lazy\\.localhost:${port}\\s+lazy\\s+running\\s+1$`, "m"),
    );
  } finally {
    await client.close();
    running.child.kill("SIGTERM");
    assert.equal(await running.exited, 0, running.output());
    await rm(dir, { recursive: true, force: true });
  }
});
