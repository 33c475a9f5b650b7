// Two PostgreSQL servers behind one proxy port: routing by database to the
// right instance, SCRAM authentication relayed between client and backend,
// TLS from the proxy to the backend, cancel reaching the instance that owns
// the session, and 200 clients at once.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { after, before, test } from "node:test";
import pg from "pg";
import { makeCertificate, type TestCertificate } from "../support/certificates.ts";
import { startCluster, type TestCluster } from "./cluster.ts";
import {
  cancelPacket,
  cancelWithPg,
  createDatabases,
  directClient,
  MAIN_SERVER,
  proxyClient,
  psql,
  type RunningProxy,
  rawSocket,
  startProxy,
  uniqueName,
  waitUntilRunning,
} from "./harness.ts";

// The second server asks for a SCRAM password; pg and psql read PGPASSWORD
// (the main server trusts local connections and ignores it).
const PASSWORD = "s3cret-scram";
process.env.PGPASSWORD = PASSWORD;
const onMain = uniqueName("nexus_main");
const onSecond = uniqueName("nexus_second");
let second: TestCluster;
let certificate: TestCertificate;
let dropMain: () => Promise<void>;
let proxy: RunningProxy;

before(async () => {
  certificate = makeCertificate(["localhost"]);
  second = await startCluster({
    maxConnections: 250,
    password: PASSWORD,
    tls: { cert: certificate.cert, key: certificate.key },
  });
  dropMain = await createDatabases([onMain]);
  await createDatabases([onSecond], second.port);
  proxy = await startProxy({
    [onMain]: MAIN_SERVER,
    [onSecond]: `127.0.0.1:${second.port}`,
  });
});

after(async () => {
  // The proxy and the second server hold the certificate in memory: its files can go first.
  certificate?.dispose();
  await proxy?.close();
  await dropMain?.();
  await second?.stop();
});

async function serverPort(database: string): Promise<number> {
  const client = proxyClient(proxy.port, database);
  await client.connect();
  try {
    const { rows } = await client.query("SELECT current_setting('port')::int AS port");
    return rows[0].port;
  } finally {
    await client.end();
  }
}

test("each database is served by its own server instance", async () => {
  assert.equal(await serverPort(onMain), 5432);
  assert.equal(await serverPort(onSecond), second.port);
  const result = await psql(
    `host=127.0.0.1 port=${proxy.port} user=postgres dbname=${onSecond}`,
    "SHOW port",
  );
  assert.equal(result.stdout, String(second.port), result.stderr);
});

test("SCRAM authentication passes through; a wrong password is the backend's own 28P01", async () => {
  const wrong = new pg.Client({
    host: "127.0.0.1",
    port: proxy.port,
    user: "postgres",
    database: onSecond,
    password: "not-the-password",
  });
  wrong.on("error", () => {});
  await assert.rejects(wrong.connect(), { code: "28P01" });
  const result = await psql(
    `host=127.0.0.1 port=${proxy.port} user=postgres dbname=${onSecond} password=wrong`,
    "SELECT 1",
  );
  assert.match(result.stderr, /password authentication failed for user "postgres"/);
});

test("with backendTls the hop to the server is encrypted and its certificate checked", async () => {
  const encrypted = await startProxy(
    { [onSecond]: `127.0.0.1:${second.port}` },
    { backendTls: { ca: certificate.cert } },
  );
  try {
    const client = proxyClient(encrypted.port, onSecond);
    await client.connect();
    const observer = await directClient(second.port);
    try {
      const { rows } = await client.query(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
      );
      assert.equal(rows[0].ssl, true);
      // The CancelRequest to the server goes through TLS as well.
      const running = client.query("SELECT pg_sleep(60) AS tls_backend_marker");
      await waitUntilRunning(observer, "tls_backend_marker");
      cancelWithPg(client, encrypted.port);
      await assert.rejects(running, { code: "57014" });
    } finally {
      await observer.end();
      await client.end();
    }
  } finally {
    await encrypted.close();
  }
  const untrusting = await startProxy(
    { [onSecond]: `127.0.0.1:${second.port}`, [onMain]: MAIN_SERVER },
    { backendTls: true },
  );
  try {
    const client = proxyClient(untrusting.port, onSecond);
    await assert.rejects(client.connect(), {
      code: "08006",
      message: /TLS to the server for database/,
    });
  } finally {
    await untrusting.close();
  }
});

type Stall = "relay" | "silent" | "accept_then_silent";

/**
 * A TCP server in front of the second server. `behaviour(n)` says what its
 * n-th connection gets: relayed, held without a word, or an S (TLS
 * accepted) and then nothing.
 */
async function serverInFront(behaviour: (n: number, socket: Socket) => Stall) {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    const stall = behaviour(accepted++, socket);
    if (stall === "relay") {
      const upstream = connect({ host: "127.0.0.1", port: second.port });
      upstream.on("error", () => socket.destroy());
      sockets.add(upstream);
      socket.pipe(upstream).pipe(socket);
    } else {
      // Read (and ignore) everything, so that the proxy's hang-up is seen.
      socket.once("data", () => {
        if (stall === "accept_then_silent") socket.write("S");
      });
      socket.resume();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

test("a backend that stalls TLS negotiation gets the client 08006 once the startup time is up", {
  timeout: 60_000,
}, async () => {
  for (const stall of ["silent", "accept_then_silent"] as const) {
    const front = await serverInFront(() => stall);
    const stalling = await startProxy(
      { [onSecond]: front.endpoint },
      { backendTls: { ca: certificate.cert }, startupTimeoutMs: 500 },
    );
    try {
      await assert.rejects(proxyClient(stalling.port, onSecond).connect(), {
        code: "08006",
        message: /did not complete TLS within 500 ms/,
      });
      assert.equal(stalling.proxy.connections, 0);
    } finally {
      await stalling.close();
      await front.close();
    }
  }
});

test("a CancelRequest whose server stalls TLS negotiation is given up, not kept forever", {
  timeout: 30_000,
}, async () => {
  // The session's own connection is relayed; the cancel's stalls.
  let cancelLeg: Promise<unknown> | undefined;
  const front = await serverInFront((n, socket) => {
    if (n === 0) return "relay";
    cancelLeg = once(socket, "close");
    return "silent";
  });
  const encrypted = await startProxy(
    { [onSecond]: front.endpoint },
    { backendTls: { ca: certificate.cert }, startupTimeoutMs: 60_000 },
  );
  const client = proxyClient(encrypted.port, onSecond);
  try {
    await client.connect();
    const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
    const cancel = rawSocket(encrypted.port);
    cancel.write(cancelPacket(processID, secretKey));
    // The proxy gives up the delivery: it closes its connection to the
    // server, then hangs up on the client.
    await once(cancel, "close");
    assert.ok(cancelLeg, "the cancel reached the server in front");
    await cancelLeg;
    const { rows } = await client.query("SELECT 1 AS alive");
    assert.deepEqual(rows, [{ alive: 1 }]);
  } finally {
    await client.end();
    await encrypted.close();
    await front.close();
  }
});

test("a cancel goes to the instance that runs the query", async () => {
  const victim = proxyClient(proxy.port, onSecond);
  await victim.connect();
  const observer = await directClient(second.port);
  try {
    const running = victim.query("SELECT pg_sleep(60) AS second_instance_marker");
    await waitUntilRunning(observer, "second_instance_marker");
    cancelWithPg(victim, proxy.port);
    await assert.rejects(running, { code: "57014" });
  } finally {
    await observer.end();
    await victim.end();
  }
});

test("200 clients at once each get their own session", async () => {
  const clients = Array.from({ length: 200 }, () => proxyClient(proxy.port, onSecond));
  try {
    await Promise.all(clients.map((client) => client.connect()));
    assert.equal(proxy.proxy.connections, 200);
    const pids = await Promise.all(
      clients.map(async (client, i) => {
        const { rows } = await client.query("SELECT pg_backend_pid() AS pid, $1::int AS i", [i]);
        assert.equal(rows[0].i, i);
        return rows[0].pid as number;
      }),
    );
    assert.equal(new Set(pids).size, 200);
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
  }
});
