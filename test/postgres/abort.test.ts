// Clients that vanish at any point — mid-startup, mid-authentication, idle,
// or in the middle of a large result — leave nothing behind: no session, no
// cancel key, no backend connection, and the proxy keeps serving.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import fc from "fast-check";
import { BackendRouter, LOOPBACK_RANGES, type Resolver } from "../../src/proxy/core/index.ts";
import { PostgresProxy } from "../../src/proxy/postgres/index.ts";
import {
  directClient,
  MAIN_SERVER,
  proxyClient,
  proxyForTests,
  queryMessage,
  rawSocket,
  startupMessage,
} from "./harness.ts";

const proxy = proxyForTests({ postgres: MAIN_SERVER });

type Moment = { kind: "startup"; bytes: number } | { kind: "firstReply" } | { kind: "midResult" };

/** Connects, goes as far as `moment`, then destroys the socket. */
async function vanishAt(moment: Moment, applicationName: string): Promise<void> {
  const socket = rawSocket(proxy.port);
  await once(socket, "connect");
  const startup = startupMessage({
    user: "postgres",
    database: "postgres",
    application_name: applicationName,
  });
  if (moment.kind === "startup") {
    socket.write(startup.subarray(0, 1 + (moment.bytes % startup.length)));
  } else {
    socket.write(startup);
    await once(socket, "data");
    if (moment.kind === "midResult") {
      socket.write(queryMessage("SELECT repeat('x', 1000) FROM generate_series(1, 100000)"));
      await once(socket, "data");
    }
  }
  socket.destroy();
}

async function eventually(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail(`never: ${what}`);
}

test("property: clients vanishing at any moment leave no session, key or backend behind", async () => {
  const applicationName = "nexus_abort_test";
  const moment: fc.Arbitrary<Moment> = fc.oneof(
    fc.record({ kind: fc.constant("startup" as const), bytes: fc.nat() }),
    fc.record({ kind: fc.constant("firstReply" as const) }),
    fc.record({ kind: fc.constant("midResult" as const) }),
  );
  await fc.assert(
    fc.asyncProperty(moment, (m) => vanishAt(m, applicationName)),
    { numRuns: 40 },
  );
  await eventually(() => proxy.proxy.connections === 0, "all sessions closed");
  assert.equal(proxy.proxy.issuedCancelKeys, 0);
  const observer = await directClient();
  try {
    await eventually(async () => {
      const { rows } = await observer.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
        [applicationName],
      );
      return rows[0].n === 0;
    }, "all backends gone");
  } finally {
    await observer.end();
  }
  const client = proxyClient(proxy.port, "postgres");
  await client.connect();
  assert.equal((await client.query("SELECT 1 AS one")).rows[0].one, 1);
  assert.equal(proxy.proxy.issuedCancelKeys, 1);
  await client.end();
});

test("a client that leaves while its backend wakes gives its place in the queue back", {
  timeout: 60_000,
}, async () => {
  let awake = false;
  const sleepy: Resolver = {
    resolve: () => ({ endpoint: MAIN_SERVER, asleep: !awake }),
  };
  const router = new BackendRouter({
    resolver: sleepy,
    ssrf: { allow: LOOPBACK_RANGES },
    cache: false,
    coldStart: { timeoutMs: 60_000, pollIntervalMs: 20, maxQueue: 1 },
  });
  const cold = new PostgresProxy({ router });
  const { port } = await cold.listen(0, "127.0.0.1");
  try {
    const leaving = rawSocket(port);
    leaving.write(startupMessage({ user: "postgres", database: "postgres" }));
    await waitFor(() => cold.connections === 1);
    leaving.destroy();
    await waitFor(() => cold.connections === 0);
    assert.equal(cold.connections, 0, "the session of the client that left is over");
    // The queue holds one: the client that left must not still fill it.
    const client = proxyClient(port, "postgres");
    const connected = client.connect();
    await waitFor(() => cold.connections === 1);
    awake = true;
    await connected;
    await client.end();
  } finally {
    await cold.close(0);
  }
});

/** Resolves once `condition` holds, checking every 20 ms (at most 10 s). */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 500 && !condition(); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
