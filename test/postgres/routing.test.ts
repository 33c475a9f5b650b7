// Real clients (pg, psql) through the proxy to the main server: routing by
// database, user and options setting, database renames, and each routing
// failure as the SQLSTATE a PostgreSQL server would send.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pg from "pg";
import { type Resolver, ResolverError } from "../../src/proxy/core/index.ts";
import { PostgresProxy } from "../../src/proxy/postgres/index.ts";
import {
  cancelPacket,
  createDatabases,
  MAIN_SERVER,
  proxyClient,
  psql,
  type RunningProxy,
  rawExchange,
  startProxy,
  testRouter,
  uniqueName,
} from "./harness.ts";

const alpha = uniqueName("nexus_alpha");
const beta = uniqueName("nexus_beta");
let dropDatabases: () => Promise<void>;
let proxy: RunningProxy;

before(async () => {
  dropDatabases = await createDatabases([alpha, beta]);
  proxy = await startProxy({
    [alpha]: MAIN_SERVER,
    [beta]: MAIN_SERVER,
    tenant_a: { endpoint: MAIN_SERVER, metadata: { database: alpha } },
    closed_port: "127.0.0.1:1",
  });
});

after(async () => {
  await proxy?.close();
  await dropDatabases?.();
});

async function currentDatabase(config: pg.ClientConfig): Promise<string> {
  const client = new pg.Client({ host: "127.0.0.1", user: "postgres", ...config });
  await client.connect();
  try {
    const { rows } = await client.query("SELECT current_database() AS name");
    return rows[0].name;
  } finally {
    await client.end();
  }
}

async function connectError(config: pg.ClientConfig): Promise<{ code: string; message: string }> {
  const client = new pg.Client({ host: "127.0.0.1", user: "postgres", ...config });
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    const { code, message } = error as { code: string; message: string };
    return { code, message };
  } finally {
    await client.end().catch(() => {});
  }
  assert.fail("the connection should have been refused");
}

test("pg reaches each database it names through one port", async () => {
  assert.equal(await currentDatabase({ port: proxy.port, database: alpha }), alpha);
  assert.equal(await currentDatabase({ port: proxy.port, database: beta }), beta);
});

test("psql queries through the proxy as it would directly", async () => {
  const result = await psql(
    `host=127.0.0.1 port=${proxy.port} user=postgres dbname=${beta}`,
    "SELECT current_database(), 6 * 7",
  );
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, `${beta}|42`);
});

test("a route renames the database sent to the backend", async () => {
  assert.equal(await currentDatabase({ port: proxy.port, database: "tenant_a" }), alpha);
});

test("psql shows FATAL 3D000 for a database no route serves", async () => {
  const result = await psql(
    `host=127.0.0.1 port=${proxy.port} user=postgres dbname=no_such_db`,
    "SELECT 1",
  );
  assert.equal(result.code, 2);
  assert.match(result.stderr, /FATAL: {2}database "no_such_db" does not exist/);
  const refused = await connectError({ port: proxy.port, database: "no_such_db" });
  assert.equal(refused.code, "3D000");
});

test("an unreachable backend is 08006", async () => {
  const refused = await connectError({ port: proxy.port, database: "closed_port" });
  assert.equal(refused.code, "08006");
  assert.match(refused.message, /could not connect to the server for database "closed_port"/);
});

test("routing by user sends everyone with that user name to its backend", async () => {
  const byUser = await startProxy(
    { postgres: { endpoint: MAIN_SERVER, metadata: { database: beta } } },
    { routeBy: "user" },
  );
  try {
    assert.equal(await currentDatabase({ port: byUser.port, database: "anything" }), beta);
    const refused = await connectError({ port: byUser.port, user: "nobody" });
    assert.equal(refused.code, "3D000");
    assert.match(refused.message, /no database is routed for user "nobody"/);
  } finally {
    await byUser.close();
  }
});

test("routing by an options setting reads it and keeps it from the backend", async () => {
  const byOption = await startProxy(
    { acme: { endpoint: MAIN_SERVER, metadata: { database: alpha } } },
    { routeBy: { option: "tenant" } },
  );
  try {
    const client = new pg.Client({
      host: "127.0.0.1",
      port: byOption.port,
      user: "postgres",
      database: "ignored",
      // work_mem stays; tenant is the proxy's and would be refused by the server.
      options: "-c tenant=acme -c work_mem=5MB",
    });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT current_database() AS name, current_setting('work_mem') AS work_mem",
      );
      assert.deepEqual(rows[0], { name: alpha, work_mem: "5MB" });
    } finally {
      await client.end();
    }
    const psqlResult = await psql(
      `host=127.0.0.1 port=${byOption.port} user=postgres options='--tenant=acme'`,
      "SELECT current_database()",
    );
    assert.equal(psqlResult.stdout, alpha, psqlResult.stderr);
    const missing = await connectError({ port: byOption.port, database: alpha });
    assert.equal(missing.code, "08004");
  } finally {
    await byOption.close();
  }
});

test("each resolver failure becomes the server's own SQLSTATE", async () => {
  const failures: Record<string, ResolverError> = {
    cold: new ResolverError("TIMEOUT", "slow", { reason: "cold_start_timeout" }),
    full: new ResolverError("UNAVAILABLE", "full", { reason: "queue_full" }),
    breaker: new ResolverError("UNAVAILABLE", "open", { reason: "breaker_open" }),
    blocked: new ResolverError("FORBIDDEN", "no", { reason: "blocked_address" }),
    forbidden: new ResolverError("FORBIDDEN", "no"),
    broken: new ResolverError("INTERNAL", "bug", { reason: "resolver_failed" }),
  };
  const expected: Record<string, string> = {
    cold: "57P03",
    full: "53300",
    breaker: "08006",
    blocked: "28000",
    forbidden: "28000",
    broken: "XX000",
  };
  const resolver: Resolver = {
    resolve(key) {
      throw failures[key] ?? new Error("not a ResolverError");
    },
  };
  const failing = new PostgresProxy({ router: testRouter(resolver) });
  const { port } = await failing.listen(0, "127.0.0.1");
  try {
    for (const [database, code] of Object.entries(expected)) {
      const refused = await connectError({ port, database });
      assert.equal(refused.code, code, database);
    }
    const thrown = await connectError({ port, database: "plain_error" });
    assert.equal(thrown.code, "XX000");
  } finally {
    await failing.close();
  }
});

test("connections beyond the limit get 53300 and the others keep working", async () => {
  const limited = await startProxy({ [alpha]: MAIN_SERVER }, { maxConnections: 1 });
  const first = proxyClient(limited.port, alpha);
  await first.connect();
  try {
    const refused = await connectError({ port: limited.port, database: alpha });
    assert.equal(refused.code, "53300");
    const { rows } = await first.query("SELECT 1 AS one");
    assert.equal(rows[0].one, 1);
  } finally {
    await first.end();
    await limited.close();
  }
});

test("metrics count each startup's outcome, cancel requests and open connections", async () => {
  const counted = await startProxy({ [alpha]: MAIN_SERVER });
  try {
    assert.equal(await currentDatabase({ port: counted.port, database: alpha }), alpha);
    await connectError({ port: counted.port, database: "not_routed" });
    await connectError({ port: counted.port, database: alpha, user: "no_such_role" });
    await rawExchange(counted.port, cancelPacket(1, 2), { end: true });
    const { metrics } = counted.proxy;
    const outcomes = Object.fromEntries(
      (await metrics.startups.get()).values.map((v) => [v.labels.outcome, v.value]),
    );
    assert.deepEqual(outcomes, { ready: 1, "3D000": 1, backend_error: 1, cancel_request: 1 });
    const cancels = (await metrics.cancelRequests.get()).values;
    assert.deepEqual(
      cancels.map((v) => [v.labels.outcome, v.value]),
      [["unknown_key", 1]],
    );
    const open = await metrics.openConnections.get();
    assert.equal(open.values[0]?.value, counted.proxy.connections);
  } finally {
    await counted.close();
  }
});
