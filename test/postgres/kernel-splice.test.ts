// Sessions handed to the kernel after their startup: the queries, results,
// notifications and cancels of real clients go on as before, and the
// proxy's metrics tell which sessions the kernel relayed.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PostgresProxy } from "../../src/proxy/postgres/index.ts";
import { requireKernelSplice } from "../support/kernel-splice.ts";
import { MAIN_SERVER, proxyClient, psql, startProxy } from "./harness.ts";

requireKernelSplice();

/** Sessions counted as relayed by `mover`, once `count` of them have ended. */
async function relayedSessions(
  proxy: PostgresProxy,
  mover: string,
  count: number,
): Promise<number> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const values = (await proxy.metrics.relayedSessions.get()).values;
    const counted = values.find((value) => value.labels.mover === mover)?.value ?? 0;
    if (counted >= count) return counted;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`fewer than ${count} sessions relayed by the ${mover}`);
}

test("a pg session runs queries, large results and notifications through the kernel", async () => {
  const running = await startProxy({ postgres: MAIN_SERVER });
  try {
    const client = proxyClient(running.port, "postgres");
    await client.connect();
    const notified = new Promise<string | undefined>((resolve) =>
      client.on("notification", (message) => resolve(message.payload)),
    );
    await client.query("LISTEN nexus_splice");
    const big = await client.query(
      "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 50000) g",
    );
    assert.equal(big.rowCount, 50000);
    assert.equal(big.rows[49999].g, 50000);
    // Sent by the server on its own, to a client that asked for nothing.
    await client.query("SELECT pg_notify('nexus_splice', 'hello')");
    assert.equal(await notified, "hello");
    const { rows } = await client.query("SELECT $1::text || $2::text AS joined", ["a", "b"]);
    assert.equal(rows[0].joined, "ab");
    await client.end();
    assert.equal(await relayedSessions(running.proxy, "kernel", 1), 1);
  } finally {
    await running.close();
  }
});

test("psql sessions through the kernel, many at once", async () => {
  const running = await startProxy({ postgres: MAIN_SERVER });
  try {
    const conninfo = `host=127.0.0.1 port=${running.port} user=postgres dbname=postgres`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => psql(conninfo, `SELECT ${i} * 2`)),
    );
    results.forEach((result, i) => {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout.trim(), String(i * 2));
    });
    assert.equal(await relayedSessions(running.proxy, "kernel", 20), 20);
  } finally {
    await running.close();
  }
});

test("with kernelSplice false the process relays", async () => {
  const running = await startProxy({ postgres: MAIN_SERVER }, { kernelSplice: false });
  try {
    const client = proxyClient(running.port, "postgres");
    await client.connect();
    assert.equal((await client.query("SELECT 1 AS one")).rows[0].one, 1);
    await client.end();
    assert.equal(await relayedSessions(running.proxy, "process", 1), 1);
  } finally {
    await running.close();
  }
});
