// The MySQL proxy with real clients (mysql2, the mariadb CLI) and real
// servers: the machine's MariaDB and a second instance started for the test.
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import mysql from "mysql2/promise";
import { Registry } from "prom-client";
import {
  BackendRouter,
  type BackendRouterOptions,
  LOOPBACK_RANGES,
  type ResolveContext,
  type Resolver,
  StaticResolver,
  type StaticRoutes,
} from "../../src/proxy/core/index.ts";
import {
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
} from "../../src/proxy/mysql/capabilities.ts";
import { encodeHandshakeResponse } from "../../src/proxy/mysql/handshake-response.ts";
import { MysqlProxy, type MysqlProxyOptions } from "../../src/proxy/mysql/index.ts";
import { encodePacket } from "../../src/proxy/mysql/packet.ts";
import { makeCertificate, type TestCertificate } from "../support/certificates.ts";
import { requireKernelSplice } from "../support/kernel-splice.ts";
import { mariadb, requireService } from "../support/services.ts";
import {
  type CachingSha2Server,
  CLEARTEXT_USER,
  startCachingSha2Server,
} from "./caching-sha2-server.ts";
import { type MariadbInstance, startMariadb } from "./mariadb-instance.ts";
import { errorOrClose, mariadbCli, rawConnect } from "./mysql-clients.ts";

const suffix = `${process.pid}`;
const dbMain = `nexus_main_${suffix}`;
const dbSecond = `nexus_second_${suffix}`;
const user = `nexus_pw_${suffix}`;
const password = "s3cret-Pass";

describe("MySQL proxy with real clients and servers", () => {
  let second: MariadbInstance;
  let sha2: CachingSha2Server;
  let certificate: TestCertificate;
  const proxies: MysqlProxy[] = [];
  let routes: StaticRoutes;

  async function admin(port: number, sql: string): Promise<void> {
    const connection = await mysql.createConnection({ host: "127.0.0.1", port, user: "root" });
    try {
      await connection.query(sql);
    } finally {
      await connection.end();
    }
  }

  /** A proxy over the test routes (unless `routing` says otherwise), on an ephemeral port. */
  async function startProxy(
    options: Partial<MysqlProxyOptions> = {},
    routing: Partial<BackendRouterOptions> = {},
  ): Promise<{ proxy: MysqlProxy; port: number }> {
    const router = new BackendRouter({
      resolver: new StaticResolver(routes),
      ssrf: { allow: LOOPBACK_RANGES },
      breaker: false,
      ...routing,
    });
    const proxy = new MysqlProxy({ router, ...options });
    proxies.push(proxy);
    return { proxy, port: (await proxy.listen(0, "127.0.0.1")).port };
  }

  /** Resolves once the server runs `statement` (as `observer` sees it). */
  async function untilRunning(observer: mysql.Connection, statement: string): Promise<void> {
    for (;;) {
      const [running] = await observer.query(
        "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO = ?",
        [statement],
      );
      if ((running as { n: number }[])[0]?.n) return;
    }
  }

  /** mysql2 through a proxy, as root unless `options` say otherwise. */
  function connectTo(proxyPort: number, database: string, options: mysql.ConnectionOptions = {}) {
    return mysql.createConnection({
      host: "127.0.0.1",
      port: proxyPort,
      user: "root",
      database,
      ...options,
    });
  }

  let port: number;
  let tlsPort: number;

  before(async () => {
    await requireService(mariadb);
    second = await startMariadb();
    certificate = makeCertificate(["localhost"]);
    sha2 = await startCachingSha2Server("sha2user", "sha2-Secret");
    await admin(3306, `CREATE DATABASE ${dbMain}`);
    await admin(second.port, `CREATE DATABASE ${dbSecond}`);
    // A user of another plugin, on the throwaway server only.
    await admin(second.port, "INSTALL SONAME 'auth_ed25519'");
    await admin(
      second.port,
      `CREATE USER 'nexus_ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('${password}')`,
    );
    await admin(second.port, `GRANT ALL ON ${dbSecond}.* TO 'nexus_ed'@'127.0.0.1'`);
    await admin(
      3306,
      `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`,
    );
    await admin(3306, `GRANT ALL ON ${dbMain}.* TO '${user}'@'127.0.0.1'`);
    routes = {
      [dbMain]: "127.0.0.1:3306",
      [dbSecond]: second.endpoint,
      nexus_down: "127.0.0.1:1",
      nexus_sha2: sha2.endpoint,
    };
    port = (await startProxy()).port;
    tlsPort = (await startProxy({ tls: { cert: certificate.cert, key: certificate.key } })).port;
  });

  after(async () => {
    // The proxies hold the certificate in memory: its files can go first.
    certificate?.dispose();
    for (const proxy of proxies) await proxy.close();
    await admin(3306, `DROP USER IF EXISTS '${user}'@'127.0.0.1'`).catch(() => {});
    await admin(3306, `DROP DATABASE IF EXISTS ${dbMain}`).catch(() => {});
    await second?.stop();
    await sha2?.close();
  });

  async function query<T>(options: mysql.ConnectionOptions, sql: string): Promise<T[]> {
    const connection = await mysql.createConnection({ host: "127.0.0.1", ...options });
    try {
      const [rows] = await connection.query(sql);
      return rows as T[];
    } finally {
      await connection.end();
    }
  }

  test("mysql2 as root without a password reaches the server that holds the database", async () => {
    const main = await query<{ db: string; port: number }>(
      { port, user: "root", database: dbMain },
      "SELECT DATABASE() AS db, @@port AS port",
    );
    assert.deepEqual(main, [{ db: dbMain, port: 3306 }]);
    const other = await query<{ db: string; port: number }>(
      { port, user: "root", database: dbSecond },
      "SELECT DATABASE() AS db, @@port AS port",
    );
    assert.deepEqual(other, [{ db: dbSecond, port: second.port }]);
  });

  test("mysql2 with a mysql_native_password user; a wrong password gets the backend's 1045", async () => {
    const rows = await query<{ me: string }>(
      { port, user, password, database: dbMain },
      "SELECT CURRENT_USER() AS me",
    );
    assert.deepEqual(rows, [{ me: `${user}@127.0.0.1` }]);
    await assert.rejects(query({ port, user, password: "wrong", database: dbMain }, "SELECT 1"), {
      errno: 1045,
      sqlState: "28000",
      message: new RegExp(
        `Access denied for user '${user}'@'127\\.0\\.0\\.1' \\(using password: YES\\)`,
      ),
    });
  });

  test("an unknown database gets 1049, no database gets 1046 unless a default route is set", async () => {
    await assert.rejects(query({ port, user: "root", database: "nexus_nowhere" }, "SELECT 1"), {
      errno: 1049,
      sqlState: "42000",
      message: "Unknown database 'nexus_nowhere'",
    });
    await assert.rejects(query({ port, user: "root" }, "SELECT 1"), {
      errno: 1046,
      sqlState: "3D000",
    });
    const { port: defaultPort } = await startProxy({ defaultRoute: dbSecond });
    const rows = await query<{ db: string | null; port: number }>(
      { port: defaultPort, user: "root" },
      "SELECT DATABASE() AS db, @@port AS port",
    );
    assert.deepEqual(rows, [{ db: null, port: second.port }]);
  });

  test("a backend that is down gets 2003 quickly, not a hang", async () => {
    await assert.rejects(query({ port, user: "root", database: "nexus_down" }, "SELECT 1"), {
      errno: 2003,
      sqlState: "HY000",
    });
  });

  test("cold start: a sleeping backend is woken and the client waits; one that never wakes gets 2003, a full queue 1040", async () => {
    let awake = false;
    let wakes = 0;
    const routesOnly = new StaticResolver(routes);
    const sleepy: Resolver = {
      resolve(key) {
        if (key === dbMain) return { endpoint: "127.0.0.1:3306", asleep: !awake };
        if (key === "nexus_never") return { endpoint: "127.0.0.1:1", asleep: true };
        return routesOnly.resolve(key);
      },
      wake(key) {
        if (key !== dbMain) return;
        wakes += 1;
        setImmediate(() => {
          awake = true;
        });
      },
    };
    const { port: coldPort } = await startProxy(
      {},
      {
        resolver: sleepy,
        cache: false,
        coldStart: { timeoutMs: 500, pollIntervalMs: 20, maxQueue: 1 },
      },
    );

    const rows = await query<{ db: string }>(
      { port: coldPort, user: "root", database: dbMain },
      "SELECT DATABASE() AS db",
    );
    assert.deepEqual(rows, [{ db: dbMain }]);
    assert.equal(wakes, 1);

    const attempts = await Promise.allSettled([
      query({ port: coldPort, user: "root", database: "nexus_never" }, "SELECT 1"),
      query({ port: coldPort, user: "root", database: "nexus_never" }, "SELECT 1"),
    ]);
    const codes = attempts.map((a) =>
      a.status === "rejected" ? (a.reason as { errno: number }).errno : 0,
    );
    assert.deepEqual(codes.sort(), [1040, 2003]);
  });

  /**
   * A resolver whose `key` sleeps until `wakeUp()`; other keys route as
   * usual. `askedBy` holds the context of each connection that asked.
   */
  function sleepingRoute(key: string) {
    let awake = false;
    const routesOnly = new StaticResolver(routes);
    const askedBy = new Set<ResolveContext>();
    return {
      askedBy,
      resolver: {
        resolve(asked: string, context: ResolveContext) {
          askedBy.add(context);
          if (asked === key) return { endpoint: "127.0.0.1:3306", asleep: !awake };
          return routesOnly.resolve(asked);
        },
      } satisfies Resolver,
      wakeUp() {
        awake = true;
      },
    };
  }

  /** A raw client's HandshakeResponse41 as root for `database`. */
  function handshakeResponse(database: string): Buffer {
    return encodePacket(
      1,
      encodeHandshakeResponse({
        capabilities:
          CLIENT_PROTOCOL_41 |
          CLIENT_SECURE_CONNECTION |
          CLIENT_PLUGIN_AUTH |
          CLIENT_CONNECT_WITH_DB,
        maxPacketSize: 1 << 24,
        characterSet: 45,
        user: Buffer.from("root"),
        authResponse: Buffer.alloc(0),
        database: Buffer.from(database),
        authPlugin: "mysql_native_password",
        attributes: undefined,
      }),
    );
  }

  test("bytes a client streams while its route wakes are not buffered without bound", async () => {
    const sleeping = sleepingRoute(dbMain);
    const { port: coldPort } = await startProxy(
      { handshakeTimeoutMs: 60_000 },
      {
        resolver: sleeping.resolver,
        cache: false,
        coldStart: { timeoutMs: 60_000, pollIntervalMs: 20 },
      },
    );
    const connection = await rawConnect(coldPort);
    connection.socket.write(handshakeResponse(dbMain));
    // Junk behind the handshake response, one chunk at a time. A proxy that
    // stops reading leaves a write pending (the kernel's buffers fill) long
    // before 24 MiB; one that buffers takes it all.
    const socket = connection.socket;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    let sent = 0;
    let stalled = false;
    while (sent < 24 * 1024 * 1024 && !stalled) {
      stalled = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(true), 5000);
        socket.write(chunk, () => {
          clearTimeout(timer);
          resolve(false);
        });
      });
      sent += chunk.length;
    }
    assert.ok(stalled, `the proxy took ${sent} bytes it had no use for`);
    // Once the route wakes, the proxy asks for the backend's scramble and
    // reads the junk as an oversized packet.
    sleeping.wakeUp();
    assert.equal((await connection.channel.read())?.payload[0], 0xfe);
    assert.equal(await errorOrClose(connection), 1043);
  });

  test("a client that leaves while its backend wakes gives its place in the queue back", async () => {
    const sleeping = sleepingRoute(dbMain);
    const { proxy: cold, port: coldPort } = await startProxy(
      {},
      {
        resolver: sleeping.resolver,
        cache: false,
        coldStart: { timeoutMs: 60_000, pollIntervalMs: 20, maxQueue: 1 },
      },
    );
    const open = async () => (await cold.metrics.openConnections.get()).values[0]?.value;
    const leaving = await rawConnect(coldPort);
    leaving.socket.write(handshakeResponse(dbMain));
    await waitFor(async () => sleeping.askedBy.size === 1);
    leaving.socket.destroy();
    await waitFor(async () => (await open()) === 0);
    // The queue holds one: the client that left must not still fill it.
    const waiting = await rawConnect(coldPort);
    waiting.socket.write(handshakeResponse(dbMain));
    await waitFor(async () => sleeping.askedBy.size === 2);
    sleeping.wakeUp();
    // Routed: the proxy relays the backend's challenge.
    const challenge = await waiting.channel.read();
    waiting.socket.destroy();
    assert.equal(challenge?.payload[0], 0xfe, `got ${challenge?.payload.toString("hex")}`);
  });

  test("the mariadb CLI: root, a password user, wrong password, unknown and missing database", async () => {
    const root = await mariadbCli(port, ["-uroot", dbSecond, "-e", "SELECT DATABASE(), @@port"]);
    assert.equal(root.code, 0, root.stderr);
    assert.equal(root.stdout.trim(), `${dbSecond}\t${second.port}`);

    const withPassword = await mariadbCli(port, [
      `-u${user}`,
      `-p${password}`,
      dbMain,
      "-e",
      "SELECT CURRENT_USER()",
    ]);
    assert.equal(withPassword.code, 0, withPassword.stderr);
    assert.equal(withPassword.stdout.trim(), `${user}@127.0.0.1`);

    const wrong = await mariadbCli(port, [`-u${user}`, "-pwrong", dbMain, "-e", "SELECT 1"]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /ERROR 1045 \(28000\): Access denied for user/);

    const unknown = await mariadbCli(port, ["-uroot", "nexus_nowhere", "-e", "SELECT 1"]);
    assert.match(unknown.stderr, /ERROR 1049 \(42000\): Unknown database 'nexus_nowhere'/);

    const none = await mariadbCli(port, ["-uroot", "-e", "SELECT 1"]);
    assert.match(none.stderr, /ERROR 1046 \(3D000\)/);
  });

  test("the backend's own AuthSwitchRequest (an ed25519 user) reaches the CLI", async () => {
    const result = await mariadbCli(port, [
      "-unexus_ed",
      `-p${password}`,
      dbSecond,
      "-e",
      "SELECT CURRENT_USER()",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), "nexus_ed@127.0.0.1");
  });

  test("mysql2 changeUser re-authenticates on the same backend connection", async () => {
    const connection = await connectTo(port, dbMain);
    try {
      await connection.changeUser({ user, password, database: dbMain });
      const [rows] = await connection.query("SELECT CURRENT_USER() AS me");
      assert.deepEqual(rows, [{ me: `${user}@127.0.0.1` }]);
    } finally {
      await connection.end();
    }
  });

  test("TLS is terminated for mysql2 and the CLI, verified against the certificate", async () => {
    const connection = await connectTo(tlsPort, dbMain, {
      user,
      password,
      ssl: { ca: certificate.cert },
    });
    try {
      const [rows] = await connection.query("SELECT DATABASE() AS db");
      assert.deepEqual(rows, [{ db: dbMain }]);
      const stream = (connection as unknown as { connection: { stream: { encrypted?: boolean } } })
        .connection.stream;
      assert.equal(stream.encrypted, true);
    } finally {
      await connection.end();
    }
    const cli = await mariadbCli(tlsPort, [
      "-uroot",
      "--ssl",
      "--ssl-verify-server-cert",
      `--ssl-ca=${certificate.certPath}`,
      dbSecond,
      "-e",
      "status",
    ]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /SSL:\s+Cipher in use is/);
  });

  test("the resolver sees the protocol, the client address and the TLS server name", async () => {
    const seen: ResolveContext[] = [];
    const routesOnly = new StaticResolver(routes);
    const recording: Resolver = {
      resolve(key, context) {
        seen.push(context);
        return routesOnly.resolve(key);
      },
    };
    const { port: sniPort } = await startProxy(
      { tls: { cert: certificate.cert, key: certificate.key } },
      { resolver: recording },
    );
    await query(
      {
        host: "localhost",
        port: sniPort,
        user: "root",
        database: dbMain,
        ssl: { ca: certificate.cert },
      },
      "SELECT 1",
    );
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.protocol, "mysql");
    assert.equal(seen[0]?.serverName, "localhost");
    assert.match(seen[0]?.clientAddress ?? "", /127\.0\.0\.1/);
  });

  test("a proxy that requires TLS refuses plaintext clients with 3159", async () => {
    const { port: strictPort } = await startProxy({
      tls: { cert: certificate.cert, key: certificate.key },
      requireTls: true,
    });
    await assert.rejects(query({ port: strictPort, user: "root", database: dbMain }, "SELECT 1"), {
      errno: 3159,
    });
    const rows = await query<{ one: number }>(
      { port: strictPort, user: "root", database: dbMain, ssl: { ca: certificate.cert } },
      "SELECT 1 AS one",
    );
    assert.deepEqual(rows, [{ one: 1 }]);
  });

  test("40 concurrent clients each reach their own server and keep their session", async () => {
    const results = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const database = i % 2 === 0 ? dbMain : dbSecond;
        const rows = await query<{ db: string; marker: number }>(
          { port, user: "root", database },
          `SELECT DATABASE() AS db, ${i} AS marker`,
        );
        return { expected: database, rows };
      }),
    );
    results.forEach(({ expected, rows }, i) => {
      assert.deepEqual(rows, [{ db: expected, marker: i }]);
    });
  });

  test("large results and many queries relay intact", async () => {
    const connection = await connectTo(port, dbMain);
    try {
      const [rows] = await connection.query("SELECT REPEAT('x', 5000000) AS big");
      assert.equal((rows as { big: string }[])[0]?.big.length, 5_000_000);
      for (let i = 0; i < 50; i++) {
        const [result] = await connection.execute("SELECT ? + 1 AS n", [i]);
        assert.deepEqual(result, [{ n: i + 1 }]);
      }
    } finally {
      await connection.end();
    }
  });

  test("LOAD DATA LOCAL streams the file through; data that looks like a KILL stays data", async () => {
    const connection = await connectTo(port, dbMain);
    try {
      await connection.query("CREATE TABLE lines_in (line VARBINARY(64))");
      // mysql2 sends each chunk as one packet. These look exactly like a
      // COM_QUERY "KILL <our id>", but their sequence ids are past 0: they
      // are file contents, and must reach the server as sent.
      const lookalike = Buffer.concat([
        Buffer.from([0x03]),
        Buffer.from(`KILL ${connection.threadId}`),
      ]);
      const chunks = Array.from({ length: 500 }, () => [lookalike, Buffer.from("\n")]).flat();
      await connection.query({
        sql: "LOAD DATA LOCAL INFILE 'lines.bin' INTO TABLE lines_in (line)",
        infileStreamFactory: () => Readable.from(chunks),
      });
      const [rows] = await connection.query(
        "SELECT COUNT(*) AS n, COUNT(DISTINCT line) AS kinds, HEX(MIN(line)) AS hex FROM lines_in",
      );
      assert.deepEqual(rows, [{ n: 500, kinds: 1, hex: lookalike.toString("hex").toUpperCase() }]);
    } finally {
      await connection.end();
    }
  });

  test("KILL QUERY with the id a client was given stops the query on the backend", async () => {
    const sleeper = await connectTo(port, dbMain);
    const killer = await connectTo(port, dbMain);
    try {
      assert.ok(sleeper.threadId >= 1_000_000_000, "the client holds the proxy's id");
      const statement = `SELECT SLEEP(60) AS sleeper_${suffix}`;
      // MariaDB reports the interrupted statement as 1317; a SLEEP that ran
      // its full course would return 0 instead. (Expect it now: the error
      // may arrive before the KILL's own answer.)
      const interrupted = assert.rejects(sleeper.query(statement), { errno: 1317 });
      // Wait until the backend runs the statement, then kill it by the proxy's id.
      await untilRunning(killer, statement);
      await killer.query(`KILL QUERY ${sleeper.threadId}`);
      await interrupted;
      const [after] = await sleeper.query("SELECT 2 AS alive");
      assert.deepEqual(after, [{ alive: 2 }]);
    } finally {
      await sleeper.end();
      await killer.end();
    }
  });

  test("a session ends from either side: KILL closes the client, a client that leaves frees its backend thread", async () => {
    /** Polls `check` every 20 ms until it holds; fails after 5 s. */
    async function until(what: string, check: () => Promise<boolean>): Promise<void> {
      const deadline = Date.now() + 5000;
      while (!(await check())) {
        assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const victim = await connectTo(port, dbMain);
    const killer = await connectTo(port, dbMain);
    try {
      victim.on("error", () => {});
      const ended = new Promise((resolve) => victim.once("end", resolve));
      await killer.query(`KILL CONNECTION ${victim.threadId}`);
      await ended;
      // Once the session has closed the proxy forgets its id: the backend
      // gets it unchanged and knows no such thread.
      await until("the killed session's id is unknown", () =>
        killer.query(`KILL ${victim.threadId}`).then(
          () => false,
          (error: { errno?: number }) => error.errno === 1094,
        ),
      );
    } finally {
      victim.destroy();
      await killer.end();
    }
    const leaving: Record<string, (connection: mysql.Connection, socket: Socket) => unknown> = {
      "COM_QUIT then close": (connection) => connection.end(),
      "close without COM_QUIT": (connection) => connection.destroy(),
      reset: (_, socket) => socket.resetAndDestroy(),
    };
    for (const [how, leave] of Object.entries(leaving)) {
      const socket = connect({ host: "127.0.0.1", port });
      const connection = await connectTo(port, dbMain, { stream: socket });
      connection.on("error", () => {});
      const [rows] = await connection.query("SELECT CONNECTION_ID() AS id");
      const backendThread = (rows as { id: number }[])[0]!.id;
      await leave(connection, socket);
      await until(`the backend thread is gone after ${how}`, async () => {
        const [left] = await query<{ n: number }>(
          { port: 3306, user: "root" },
          `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID = ${backendThread}`,
        );
        return left?.n === 0;
      });
    }
  });

  test("KILL of a session on another server gets that server's unknown-thread error", async () => {
    const onSecond = await connectTo(port, dbSecond);
    const onMain = await connectTo(port, dbMain);
    try {
      await assert.rejects(onMain.query(`KILL ${onSecond.threadId}`), { errno: 1094 });
      const [rows] = await onSecond.query("SELECT 1 AS alive");
      assert.deepEqual(rows, [{ alive: 1 }]);
    } finally {
      await onSecond.end();
      await onMain.end();
    }
  });

  test("caching_sha2_password full then fast authentication is relayed (scripted MySQL 8)", async () => {
    const options = { host: "127.0.0.1", port, user: "sha2user", database: "nexus_sha2" };
    for (let i = 0; i < 2; i++) {
      const connection = await mysql.createConnection({ ...options, password: "sha2-Secret" });
      await connection.ping();
      await connection.end();
    }
    // First: AuthMoreData(perform full auth), public key request, the key,
    // the RSA-encrypted password. Then the cached fast path.
    assert.deepEqual(sha2.logins, ["full", "fast"]);
    await assert.rejects(mysql.createConnection({ ...options, password: "wrong" }), {
      errno: 1045,
    });
  });

  test("exchanges that would carry a password in clear to the backend are refused with 1251", async () => {
    const server = await startCachingSha2Server("sha2user", "sha2-Secret");
    try {
      const toServer = { resolver: new StaticResolver({ nexus_clear: server.endpoint }) };
      const tls = { cert: certificate.cert, key: certificate.key };
      const { port: secure } = await startProxy({ tls }, toServer);
      const { port: plain } = await startProxy({}, toServer);
      const options = { host: "127.0.0.1", password: "sha2-Secret", database: "nexus_clear" };
      const onTls = { ...options, port: secure, ssl: { ca: certificate.cert } };
      // mysql_clear_password, as a PAM account asks for it: refused even to
      // a client on TLS, which would trust the channel.
      for (const client of [onTls, { ...options, port: plain }]) {
        await assert.rejects(
          mysql.createConnection({ ...client, user: CLEARTEXT_USER, enableCleartextPlugin: true }),
          { errno: 1251, sqlState: "08004", message: /mysql_clear_password.*in clear/ },
        );
      }
      // caching_sha2_password full authentication: a client on TLS would
      // send its password bare.
      await assert.rejects(mysql.createConnection({ ...onTls, user: "sha2user" }), {
        errno: 1251,
        message: /caching_sha2_password full authentication.*in clear/,
      });
      assert.equal(server.cleartextSeen, false);
      assert.deepEqual(server.logins, []);
      // Without TLS the client encrypts it with the server's key: allowed.
      const connection = await mysql.createConnection({
        ...options,
        port: plain,
        user: "sha2user",
      });
      await connection.end();
      assert.deepEqual(server.logins, ["full"]);
      assert.equal(server.cleartextSeen, false);
    } finally {
      await server.close();
    }
  });

  test("a backend address the SSRF guard blocks gets 1044", async () => {
    // The guard's defaults: loopback is not allowed.
    const { port: guardedPort } = await startProxy({}, { ssrf: {} });
    await assert.rejects(query({ port: guardedPort, user: "root", database: dbMain }, "SELECT 1"), {
      errno: 1044,
      sqlState: "42000",
    });
  });

  test("an SSLRequest followed by bytes that are not TLS ends in a close", async () => {
    const connection = await rawConnect(tlsPort);
    const sslRequest = Buffer.alloc(32);
    sslRequest.writeUInt32LE(0x200 | 0x800 | 0x8000 | 0x80000, 0);
    connection.socket.write(encodePacket(1, sslRequest));
    connection.socket.write("this is not a ClientHello\r\n");
    assert.equal(await errorOrClose(connection), null);
  });

  test("close() drains: no new clients, open sessions go on until they end", async () => {
    const { proxy: closing, port: closingPort } = await startProxy();
    const connection = await connectTo(closingPort, dbMain);
    const closed = closing.close(60_000);
    try {
      await assert.rejects(connectTo(closingPort, dbMain), { code: "ECONNREFUSED" });
      const [rows] = await connection.query("SELECT 1 AS still");
      assert.deepEqual(rows, [{ still: 1 }]);
    } finally {
      await connection.end();
    }
    await closed;
  });

  test("close() ends the sessions still open at the drain deadline", async () => {
    const { proxy: closing, port: closingPort } = await startProxy();
    const connection = await connectTo(closingPort, dbMain);
    const ended = new Promise((resolve) => connection.once("end", resolve));
    connection.on("error", () => {});
    await closing.close(200);
    await ended;
    await assert.rejects(connection.query("SELECT 1"));
  });

  test("the drain deadline also closes the backend connection of a session in a long query", async () => {
    const registry = new Registry();
    const { proxy: closing, port: closingPort } = await startProxy({}, { metrics: registry });
    const backendConnections = async () => {
      const gauge = registry.getSingleMetric("nexus_proxy_backend_connections");
      const { values } = (await gauge?.get()) ?? { values: [] };
      return values.reduce((sum, value) => sum + value.value, 0);
    };
    const connection = await connectTo(closingPort, dbMain);
    connection.on("error", () => {});
    const started = Date.now();
    const sleeping = connection.query("SELECT SLEEP(6)").catch(() => "cut");
    await waitFor(async () => (await backendConnections()) === 1);
    await closing.close(200);
    await waitFor(async () => (await backendConnections()) === 0);
    assert.equal(await backendConnections(), 0);
    assert.ok(Date.now() - started < 5000, "closed before the query could end by itself");
    assert.equal(await sleeping, "cut");
  });

  test("connections beyond maxConnections get 1040 instead of a greeting", async () => {
    const { port: smallPort } = await startProxy({ maxConnections: 1 });
    const first = await connectTo(smallPort, dbMain);
    try {
      await assert.rejects(query({ port: smallPort, user: "root", database: dbMain }, "SELECT 1"), {
        errno: 1040,
        sqlState: "08004",
      });
      const [rows] = await first.query("SELECT 1 AS still");
      assert.deepEqual(rows, [{ still: 1 }]);
    } finally {
      await first.end();
    }
  });

  test("a refused client that never closes its side does not hold the proxy open", async () => {
    const { proxy: small, port: smallPort } = await startProxy({ maxConnections: 1 });
    const first = await connectTo(smallPort, dbMain);
    // It reads the ERR 1040 but never ends its own side.
    const refused = connect({ port: smallPort, host: "127.0.0.1", allowHalfOpen: true });
    refused.on("error", () => {});
    refused.on("data", () => {});
    await new Promise((resolve) => refused.once("end", resolve));
    await first.end();
    // close() waits for every connection the proxy still holds, refused ones included.
    const closed = small.close(60_000).then(() => "closed");
    const timeout = new Promise((resolve) => setTimeout(() => resolve("still open"), 10_000));
    assert.equal(await Promise.race([closed, timeout]), "closed");
    refused.destroy();
  });

  test("metrics count handshakes by outcome and open connections", async () => {
    const { proxy: counted, port: countedPort } = await startProxy();
    const open = await connectTo(countedPort, dbMain);
    try {
      assert.equal((await counted.metrics.openConnections.get()).values[0]?.value, 1);
      await assert.rejects(
        query({ port: countedPort, user: "root", database: "nexus_nowhere" }, "SELECT 1"),
      );
      await assert.rejects(
        query({ port: countedPort, user, password: "wrong", database: dbMain }, "SELECT 1"),
      );
    } finally {
      await open.end();
    }
    const outcomes = Object.fromEntries(
      (await counted.metrics.handshakes.get()).values.map((v) => [v.labels.outcome, v.value]),
    );
    assert.deepEqual(outcomes, { authenticated: 1, "1049": 1, denied: 1 });
  });

  test("sessions go through the kernel both ways, one that sends a KILL is handed to the process there, none with kernelSplice false", async () => {
    requireKernelSplice();
    for (const [kernelSplice, mover, killerMover] of [
      [true, "kernel", "mixed"],
      [false, "process", "process"],
    ] as const) {
      const { proxy: counted, port: countedPort } = await startProxy({ kernelSplice });
      const connection = await connectTo(countedPort, dbMain);
      const killer = await connectTo(countedPort, dbMain);
      const [rows] = await connection.query("SELECT REPEAT('y', 300000) AS big");
      assert.equal((rows as { big: string }[])[0]?.big.length, 300_000);
      // The killer's KILL is translated, and its session goes on afterwards.
      const statement = `SELECT SLEEP(60) AS mover_${suffix}_${kernelSplice}`;
      const interrupted = assert.rejects(connection.query(statement), { errno: 1317 });
      await untilRunning(killer, statement);
      await killer.query(`KILL QUERY ${connection.threadId}`);
      await interrupted;
      const [after] = await killer.query("SELECT 2 AS two");
      assert.equal((after as { two: number }[])[0]?.two, 2);
      await connection.end();
      await killer.end();
      const expected = { [mover]: 1, [killerMover]: 1 };
      if (mover === killerMover) expected[mover] = 2;
      let relayed: Record<string, number> = {};
      for (let waited = 0; waited < 5000; waited += 10) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        const values = (await counted.metrics.relayedSessions.get()).values;
        relayed = Object.fromEntries(values.map((value) => [value.labels.mover, value.value]));
        if (Object.values(relayed).reduce((sum, count) => sum + count, 0) >= 2) break;
      }
      assert.deepEqual(relayed, expected);
    }
  });

  test("a client without CLIENT_PLUGIN_AUTH is refused with 1251", async () => {
    const connection = await rawConnect(port);
    const response = Buffer.alloc(32 + 5 + 1);
    response.writeUInt32LE(0x200 | 0x8000, 0); // PROTOCOL_41 | SECURE_CONNECTION only
    response.write("root\0", 32);
    connection.socket.write(encodePacket(1, response));
    assert.equal(await errorOrClose(connection), 1251);
  });

  test("a client that sends nothing gets 2013 when the handshake times out", async () => {
    const { port: quickPort } = await startProxy({ handshakeTimeoutMs: 300 });
    const connection = await rawConnect(quickPort);
    assert.equal(await errorOrClose(connection), 2013);
  });

  test("malformed handshakes get an ERR or a close, and the proxy keeps serving", async () => {
    const handshakeLike = fc
      .tuple(fc.nat({ max: 255 }), fc.uint8Array({ maxLength: 120 }))
      .map(([sequence, body]) => encodePacket(sequence, Buffer.from(body)));
    const anyBytes = fc.uint8Array({ minLength: 1, maxLength: 120 }).map((b) => Buffer.from(b));
    await fc.assert(
      fc.asyncProperty(fc.oneof(handshakeLike, anyBytes), async (bytes) => {
        const connection = await rawConnect(port);
        connection.socket.end(bytes);
        const code = await errorOrClose(connection);
        assert.ok(code === null || [1043, 1046, 1049, 1251, 2013].includes(code), `code ${code}`);
      }),
      { numRuns: 60 },
    );
    const rows = await query<{ one: number }>(
      { port, user: "root", database: dbMain },
      "SELECT 1 AS one",
    );
    assert.deepEqual(rows, [{ one: 1 }]);
  });
});

/** Resolves once `condition` holds, checking every 20 ms (at most 10 s). */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 500 && !(await condition()); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
