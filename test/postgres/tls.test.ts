// TLS termination: psql and pg with sslmode=require, routing by SNI, a proxy
// without a certificate answering N, and plaintext smuggled after an
// SSLRequest refused.
import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import pg from "pg";
import { makeCertificate, type TestCertificate } from "../support/certificates.ts";
import {
  cancelPacket,
  createDatabases,
  directClient,
  errorCode,
  MAIN_SERVER,
  psql,
  queryMessage,
  type RunningProxy,
  rawExchange,
  rawSocket,
  readUntilReady,
  requestPacket,
  startProxy,
  startupMessage,
  uniqueName,
  waitUntilRunning,
} from "./harness.ts";

const alpha = uniqueName("nexus_tls_alpha");
const beta = uniqueName("nexus_tls_beta");
let certificate: TestCertificate;
let dropDatabases: () => Promise<void>;
let secure: RunningProxy;
let bySni: RunningProxy;
let plain: RunningProxy;

before(async () => {
  certificate = makeCertificate(["localhost", "alpha.test", "beta.test"]);
  dropDatabases = await createDatabases([alpha, beta]);
  const tls = { cert: certificate.cert, key: certificate.key };
  secure = await startProxy({ [alpha]: MAIN_SERVER }, { tls });
  bySni = await startProxy(
    {
      "alpha.test": { endpoint: MAIN_SERVER, metadata: { database: alpha } },
      "beta.test": { endpoint: MAIN_SERVER, metadata: { database: beta } },
    },
    { tls, routeBy: "sni" },
  );
  plain = await startProxy({ [alpha]: MAIN_SERVER });
});

after(async () => {
  // The proxies hold the certificate in memory: its files can go first, whatever fails after.
  certificate?.dispose();
  await Promise.all([secure?.close(), bySni?.close(), plain?.close()]);
  await dropDatabases?.();
});

/** A pg client that requires TLS and checks the proxy's certificate. */
function tlsClient(port: number, database: string, servername?: string): pg.Client {
  return new pg.Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    database,
    ssl: { ca: certificate.cert, servername },
  });
}

test("psql with sslmode=require gets TLS from the proxy", async () => {
  const result = await psql(
    `host=127.0.0.1 port=${secure.port} user=postgres dbname=${alpha} sslmode=require`,
    "\\conninfo",
  );
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /SSL connection \(protocol: TLSv1\.[23]/);
});

test("pg verifies the proxy's certificate and queries over TLS", async () => {
  const client = tlsClient(secure.port, alpha);
  await client.connect();
  try {
    const { rows } = await client.query("SELECT current_database() AS name");
    assert.equal(rows[0].name, alpha);
  } finally {
    await client.end();
  }
});

test("routing by SNI picks the backend from the TLS server name", async () => {
  const client = tlsClient(bySni.port, "postgres", "alpha.test");
  await client.connect();
  try {
    const { rows } = await client.query("SELECT current_database() AS name");
    assert.equal(rows[0].name, alpha);
  } finally {
    await client.end();
  }
  const result = await psql(
    `host=beta.test hostaddr=127.0.0.1 port=${bySni.port} user=postgres dbname=postgres sslmode=verify-full sslrootcert=${certificate.certPath}`,
    "SELECT current_database()",
  );
  assert.equal(result.stdout, beta, result.stderr);
  const withoutTls = await psql(
    `host=127.0.0.1 port=${bySni.port} user=postgres sslmode=disable`,
    "SELECT 1",
  );
  assert.match(withoutTls.stderr, /routes by TLS server name/);
});

test("without a certificate the proxy answers N: prefer works, require fails", async () => {
  const preferred = await psql(
    `host=127.0.0.1 port=${plain.port} user=postgres dbname=${alpha} sslmode=prefer`,
    "SELECT current_database()",
  );
  assert.equal(preferred.stdout, alpha, preferred.stderr);
  const required = await psql(
    `host=127.0.0.1 port=${plain.port} user=postgres dbname=${alpha} sslmode=require`,
    "SELECT 1",
  );
  assert.notEqual(required.code, 0);
  assert.match(required.stderr, /server does not support SSL/);
});

test("plaintext pipelined after an SSLRequest is refused with 08P01", async () => {
  const smuggled = Buffer.concat([
    requestPacket(80877103),
    startupMessage({ user: "postgres", database: alpha }),
  ]);
  // One small write on loopback arrives in one read: the proxy sees both.
  const answer = await rawExchange(secure.port, smuggled);
  assert.equal(errorCode(answer), "08P01");
  assert.match(answer.toString("latin1"), /received unencrypted data after SSL request/);
});

test("a GSSENCRequest is answered N and the session goes on in the clear", async () => {
  const socket = rawSocket(plain.port);
  try {
    socket.write(requestPacket(80877104));
    const [answer] = (await once(socket, "data")) as [Buffer];
    assert.deepEqual([...answer], [0x4e]);
    socket.write(startupMessage({ user: "postgres", database: alpha }));
    const [reply] = (await once(socket, "data")) as [Buffer];
    assert.equal(String.fromCharCode(reply[0]!), "R", "AuthenticationOk follows");
  } finally {
    socket.destroy();
  }
});

test("a CancelRequest sent inside TLS cancels the session's query", async () => {
  const victim = tlsClient(secure.port, alpha);
  await victim.connect();
  const observer = await directClient();
  try {
    const running = victim.query("SELECT pg_sleep(60) AS tls_cancel_marker");
    await waitUntilRunning(observer, "tls_cancel_marker");
    const { processID, secretKey } = victim as unknown as { processID: number; secretKey: number };
    const raw = rawSocket(secure.port);
    raw.write(requestPacket(80877103));
    const [answer] = (await once(raw, "data")) as [Buffer];
    assert.equal(answer.toString(), "S");
    const secured = tlsConnect({ socket: raw, ca: certificate.cert, servername: "localhost" });
    await once(secured, "secureConnect");
    secured.end(cancelPacket(processID, secretKey));
    secured.resume();
    await assert.rejects(running, { code: "57014" });
    secured.destroy();
  } finally {
    await observer.end();
    await victim.end();
  }
});

test("direct TLS (PostgreSQL 17's sslnegotiation=direct) needs ALPN postgresql", async () => {
  const direct = tlsConnect({
    host: "127.0.0.1",
    port: secure.port,
    ca: certificate.cert,
    servername: "localhost",
    ALPNProtocols: ["postgresql"],
  });
  direct.on("error", () => {});
  await once(direct, "secureConnect");
  assert.equal(direct.alpnProtocol, "postgresql");
  direct.write(startupMessage({ user: "postgres", database: alpha }));
  const startup = await readUntilReady(direct);
  assert.equal(startup.at(-1)?.type, "Z");
  direct.write(queryMessage("SELECT current_database()"));
  const result = await readUntilReady(direct);
  const row = result.find((m) => m.type === "D");
  assert.match(row?.body.toString() ?? "", new RegExp(alpha));
  direct.destroy();

  const withoutAlpn = tlsConnect({
    host: "127.0.0.1",
    port: secure.port,
    ca: certificate.cert,
    servername: "localhost",
  });
  withoutAlpn.on("error", () => {});
  const received: Buffer[] = [];
  withoutAlpn.on("data", (chunk) => received.push(chunk));
  await once(withoutAlpn, "close");
  assert.equal(errorCode(Buffer.concat(received)), "08P01");
});
