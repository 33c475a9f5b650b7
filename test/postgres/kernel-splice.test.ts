// Sessions handed to the kernel after their startup: the queries, results,
// notifications and cancels of real clients go on as before, and the
// proxy's metrics tell which sessions the kernel relayed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { after, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import type { PostgresProxy, PostgresProxyOptions } from "../../src/proxy/postgres/index.ts";
import { makeCertificate, type TestCertificate } from "../support/certificates.ts";
import { requireKernelSplice } from "../support/kernel-splice.ts";
import {
  MAIN_SERVER,
  proxyClient,
  psql,
  rawSocket,
  readUntilReady,
  requestPacket,
  startProxy,
  startupMessage,
} from "./harness.ts";

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

/** How a test client reaches the proxy: in the clear, or with TLS after an SSLRequest. */
type Opener = (port: number) => Promise<Duplex & { end(): unknown }>;

const plainClient: Opener = async (port) => {
  const socket = rawSocket(port);
  await once(socket, "connect");
  return socket;
};

const tlsClient =
  (certificate: TestCertificate): Opener =>
  async (port) => {
    const raw = await plainClient(port);
    raw.write(requestPacket(80877103));
    const [answer] = (await once(raw, "data")) as [Buffer];
    assert.equal(answer.toString(), "S");
    const secured = tlsConnect({
      socket: raw as Socket,
      ca: certificate.cert,
      servername: "localhost",
    });
    await once(secured, "secureConnect");
    return secured;
  };

const certificate = makeCertificate(["localhost"]);
after(() => certificate.dispose());
const slowServerCases: [string, Partial<PostgresProxyOptions>, Opener][] = [
  ["the kernel relays", {}, plainClient],
  ["the process relays", { kernelSplice: false }, plainClient],
  [
    "the process relays TLS",
    { tls: { cert: certificate.cert, key: certificate.key } },
    tlsClient(certificate),
  ],
];

for (const [name, options, open] of slowServerCases) {
  test(`a client's last bytes reach a slow server before the session closes (${name})`, async () => {
    // A minimal server: ready at once, then it reads slowly and records what it gets.
    let received: Buffer[] = [];
    let ended = Promise.withResolvers<void>();
    const server = createServer((socket) => {
      socket.on("error", () => {});
      socket.once("data", () => {
        // AuthenticationOk, then ReadyForQuery (idle).
        socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49]));
        socket.on("data", (chunk: Buffer) => {
          received.push(chunk);
          socket.pause();
          setTimeout(() => socket.resume(), 2);
        });
        socket.on("end", () => ended.resolve());
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const running = await startProxy({ fake: `127.0.0.1:${port}` }, options);
    try {
      // The loss this guards against needs the last write to be pending as the client leaves.
      for (let round = 0; round < 3; round++) {
        received = [];
        ended = Promise.withResolvers<void>();
        const client = await open(running.port);
        client.write(startupMessage({ user: "u", database: "fake" }));
        await readUntilReady(client);
        const sent = randomBytes(16 << 20);
        for (let at = 0; at < sent.length; at += 100_000)
          client.write(sent.subarray(at, at + 100_000));
        client.end();
        await ended.promise;
        assert.ok(Buffer.concat(received).equals(sent));
      }
    } finally {
      await running.close();
      server.close();
    }
  });
}
