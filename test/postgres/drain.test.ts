// Closing the proxy drains it: no new connections, open sessions go on
// until they end or the drain deadline passes.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import {
  directClient,
  MAIN_SERVER,
  proxyClient,
  rawSocket,
  startProxy,
  waitUntilRunning,
} from "./harness.ts";

test("close() stops accepting and lets an open session finish", async () => {
  const running = await startProxy({ postgres: MAIN_SERVER });
  const client = proxyClient(running.port, "postgres");
  await client.connect();
  const closed = running.proxy.close(60_000);
  try {
    const refused = rawSocket(running.port);
    const [error] = await once(refused, "error");
    assert.equal((error as NodeJS.ErrnoException).code, "ECONNREFUSED");
    const { rows } = await client.query("SELECT 1 AS still");
    assert.deepEqual(rows, [{ still: 1 }]);
  } finally {
    await client.end();
  }
  await closed;
  assert.equal(running.proxy.connections, 0);
});

test("sessions still open when the drain deadline passes are closed", async () => {
  const running = await startProxy({ postgres: MAIN_SERVER });
  const client = proxyClient(running.port, "postgres");
  client.on("error", () => {});
  await client.connect();
  const ended = new Promise((resolve) => client.once("end", resolve));
  await running.proxy.close(200);
  await ended;
  await assert.rejects(client.query("SELECT 1"));
});

for (const kernelSplice of [true, false]) {
  test(`the drain deadline also cuts a session in a long query (kernelSplice ${kernelSplice})`, async () => {
    const running = await startProxy({ postgres: MAIN_SERVER }, { kernelSplice });
    const client = proxyClient(running.port, "postgres");
    client.on("error", () => {});
    await client.connect();
    const observer = await directClient();
    try {
      const cut = assert.rejects(client.query("SELECT pg_sleep(60) AS drain_marker"));
      await waitUntilRunning(observer, "drain_marker");
      const started = performance.now();
      await running.proxy.close(200);
      // At the deadline, not when the query ends: its backend connection is cut too.
      assert.ok(performance.now() - started < 30_000);
      assert.equal(running.proxy.connections, 0);
      await cut;
    } finally {
      await observer.query(
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%drain_marker%' AND pid <> pg_backend_pid()",
      );
      await observer.end();
    }
  });
}
