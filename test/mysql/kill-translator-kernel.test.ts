// Where the kernel relays a MySQL client's bytes, its verdict program
// follows their packet framing and hands the stream back to the KILL
// translator at the first chunk that may hold a KILL. Whatever the packets
// and however TCP cuts them, the backend must get exactly what the
// translator alone would have sent, and the kernel must keep every stream
// that holds nothing to translate.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { KernelSplice, Route } from "../../src/proxy/core/index.ts";
import type { RelayTotals } from "../../src/proxy/core/relay.ts";
import { ConnectionIds } from "../../src/proxy/mysql/connection-ids.ts";
import { KillTranslator } from "../../src/proxy/mysql/kill-translator.ts";
import { encodePacket } from "../../src/proxy/mysql/packet.ts";
import { relayed } from "../proxy-core/relayed.ts";
import { splitAt } from "../support/chunks.ts";
import { requireKernelSplice } from "../support/kernel-splice.ts";

const splice: KernelSplice = requireKernelSplice();

const here: Route = {
  key: "db",
  endpoint: { kind: "tcp", host: "127.0.0.1", port: 3306 },
  backend: "127.0.0.1:3306",
  result: { endpoint: "127.0.0.1:3306" },
  cacheHit: false,
  coldStartMs: 0,
};

function registry(): ConnectionIds {
  const ids = new ConnectionIds();
  ids.register(1_000_000_001, { backendThreadId: 41, route: here });
  return ids;
}

const query = (sql: string, sequence = 0) =>
  encodePacket(sequence, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, "latin1")]));

/** What the translator alone sends for `stream`. */
function translatedAlone(stream: Buffer): Buffer {
  return new KillTranslator(registry(), here).translate(stream);
}

interface Sent {
  readonly received: Buffer;
  readonly totals: RelayTotals;
  /** Bytes of the client's the process read through Node's stream. */
  readonly readByNode: number;
}

/**
 * Sends `chunks` from a client through a relay whose kernel watches MySQL
 * commands, pausing after the chunks `pauses` names so they reach the proxy
 * as chunks of their own, and ends; resolves with what the backend got.
 */
async function sendThroughKernel(
  chunks: readonly Buffer[],
  pauses: readonly boolean[] = [],
  backendStartsReadingAfterMs = 0,
): Promise<Sent> {
  const translator = new KillTranslator(registry(), here);
  const got = Promise.withResolvers<Buffer>();
  await using relay = await relayed(
    (socket) => {
      const parts: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => parts.push(chunk));
      if (backendStartsReadingAfterMs > 0) {
        socket.pause();
        setTimeout(() => socket.resume(), backendStartsReadingAfterMs);
      }
      socket.on("end", () => {
        got.resolve(Buffer.concat(parts));
        socket.end();
      });
    },
    {
      splice,
      halfOpen: true,
      rewriteToBackend: translator.translate,
      commandWatch: translator,
    },
  );
  await relay.started;
  relay.client.setNoDelay(true);
  relay.client.resume();
  for (const [index, chunk] of chunks.entries()) {
    relay.client.write(chunk);
    if (pauses[index]) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  relay.client.end();
  const received = await got.promise;
  const totals = await relay.totals;
  return { received, totals, readByNode: (await relay.proxied).client.bytesRead };
}

const plainSession = [
  query("SELECT @@version_comment LIMIT 1"),
  query("select * from users where name = 'kill'"),
  // Longer than any KILL: not looked into, and cut across chunks.
  query(`INSERT INTO t VALUES ('${"k".repeat(200_000)}')`),
  encodePacket(0, Buffer.from([0x0e])), // COM_PING
  // File contents of LOAD DATA LOCAL (sequence ids past 0) that look like a KILL.
  query("KILL 1000000001", 2),
  encodePacket(0, Buffer.from([0x01])), // COM_QUIT
];

test("a session with nothing to translate stays in the kernel, byte for byte", async () => {
  const stream = Buffer.concat(plainSession);
  const sent = await sendThroughKernel(
    plainSession,
    plainSession.map(() => true),
  );
  assert.ok(sent.received.equals(stream));
  assert.equal(sent.totals.mover, "kernel");
  assert.equal(sent.readByNode, 0);
});

test("a LOAD DATA stream that wraps to sequence 0 at a chunk's edge is not taken for a KILL", async () => {
  const kill = query("KILL 1000000001");
  // COM_QUERY "LOAD DATA LOCAL …" (0), then the file from 2 to 255, then 0, 1: the
  // kernel must remember the packet numbered 255 across the chunk's edge.
  const head = [query("LOAD DATA LOCAL INFILE 'f' INTO TABLE t")];
  for (let i = 2; i < 256; i++) head.push(encodePacket(i, Buffer.from("row\n")));
  const tail = [encodePacket(0, kill.subarray(4)), encodePacket(1, Buffer.alloc(0))];
  // Chunks of 32 packets: fewer than the kernel walks in one chunk.
  const chunks = [];
  for (let i = 0; i < head.length; i += 32) chunks.push(Buffer.concat(head.slice(i, i + 32)));
  chunks.push(...tail);
  const sent = await sendThroughKernel(
    chunks,
    chunks.map(() => true),
  );
  assert.ok(sent.received.equals(Buffer.concat([...head, ...tail])));
  assert.equal(sent.totals.mover, "kernel");
});

test("a KILL reaches the backend, translated, while the client waits for its answer", async () => {
  const translator = new KillTranslator(registry(), here);
  const arrived = Promise.withResolvers<Buffer>();
  await using relay = await relayed(
    (socket) => {
      const parts: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => {
        parts.push(chunk);
        const all = Buffer.concat(parts);
        if (all.includes("KILL 41")) arrived.resolve(all);
      });
      socket.on("end", () => socket.end());
    },
    { splice, halfOpen: true, rewriteToBackend: translator.translate, commandWatch: translator },
  );
  await relay.started;
  relay.client.write(query("SELECT 1"));
  relay.client.write(query("KILL 1000000001"));
  // The client keeps its side open: only the kernel's diversion record can wake the process.
  const received = await arrived.promise;
  assert.ok(received.equals(Buffer.concat([query("SELECT 1"), query("KILL 41")])));
  relay.client.end();
  assert.equal((await relay.totals).mover, "mixed");
});

const killCases: [string, Buffer][] = [
  ["a KILL statement", query("KILL QUERY 1000000001")],
  ["a KILL after blanks", query("\n kill 1000000001")],
  [
    "a KILL with query attributes",
    encodePacket(
      0,
      Buffer.concat([Buffer.from([0x03, 0x00, 0x01]), Buffer.from("KILL 1000000001")]),
    ),
  ],
  ["COM_PROCESS_KILL", encodePacket(0, Buffer.from([0x0c, 0x01, 0xca, 0x9a, 0x3b]))],
];
for (const [name, kill] of killCases) {
  test(`${name} hands the stream to the translator, which goes on after it`, async () => {
    const chunks = [query("SELECT 1"), kill, query("SELECT 2"), query("KILL 1000000001")];
    const sent = await sendThroughKernel(chunks, [true, true, true]);
    const expected = translatedAlone(Buffer.concat(chunks));
    assert.ok(sent.received.equals(expected), `${sent.received.toString("hex")}`);
    assert.ok(!sent.received.equals(Buffer.concat(chunks)), "the KILL was translated");
    assert.equal(sent.totals.mover, "mixed");
  });
}

test("after a KILL, megabytes for a backend that reads nothing for a while arrive whole and in order", async () => {
  const rows = Array.from({ length: 384 }, (_, i) =>
    query(`INSERT INTO t VALUES (${i}, '${"x".repeat(64 * 1024)}')`),
  );
  const chunks = [query("KILL 1000000001"), ...rows, query("KILL 1000000001")];
  const sent = await sendThroughKernel(chunks, [true], 200);
  assert.ok(sent.received.equals(translatedAlone(Buffer.concat(chunks))));
  assert.equal(sent.totals.mover, "mixed");
});

test("a chunk of more packets than the kernel walks goes to the process, translated the same", async () => {
  const many = Buffer.concat(Array.from({ length: 100 }, (_, i) => query(`SELECT ${i}`)));
  const sent = await sendThroughKernel([many, query("KILL 1000000001")]);
  assert.ok(sent.received.equals(translatedAlone(Buffer.concat([many, query("KILL 1000000001")]))));
  assert.equal(sent.totals.mover, "mixed");
});

test("property: however packets are cut and paced, the backend gets what the translator alone sends", async () => {
  const text = fc.constantFrom(
    "SELECT 1",
    "KILL 1000000001",
    "kill query 1000000001;",
    " KILL 7",
    "Kill CONNECTION 1000000001",
    "select 'kill 1000000001'",
  );
  const packet = fc.oneof(
    text.map((sql) => query(sql)),
    fc
      .tuple(fc.nat({ max: 254 }), fc.uint8Array({ maxLength: 300 }))
      .map(([sequence, body]) => encodePacket(sequence, Buffer.from(body))),
    fc
      .uint8Array({ minLength: 5, maxLength: 5 })
      .map((id) =>
        encodePacket(0, Buffer.concat([Buffer.from([0x0c]), Buffer.from(id).subarray(1)])),
      ),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(packet, { minLength: 1, maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      fc.array(fc.boolean(), { maxLength: 10 }),
      async (packets, cuts, pauses) => {
        const stream = Buffer.concat(packets);
        const sent = await sendThroughKernel(splitAt(stream, cuts), pauses);
        assert.ok(sent.received.equals(translatedAlone(stream)));
        // Unchanged streams may stay in the kernel; changed ones went through the process.
        if (!translatedAlone(stream).equals(stream)) assert.equal(sent.totals.mover, "mixed");
      },
    ),
    { numRuns: 40 },
  );
});
