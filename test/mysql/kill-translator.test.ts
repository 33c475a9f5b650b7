// KILL statements are translated from the proxy's connection ids to backend
// thread ids, wherever the client's bytes happen to be split, and every
// other byte passes unchanged.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import type { Route } from "../../src/proxy/core/index.ts";
import { ConnectionIds } from "../../src/proxy/mysql/connection-ids.ts";
import { KillTranslator } from "../../src/proxy/mysql/kill-translator.ts";
import { encodePacket } from "../../src/proxy/mysql/packet.ts";
import { splitAt } from "../support/chunks.ts";

function routeTo(port: number): Route {
  const endpoint = `127.0.0.1:${port}`;
  return {
    key: `db${port}`,
    endpoint: { kind: "tcp", host: "127.0.0.1", port },
    backend: endpoint,
    result: { endpoint },
    cacheHit: false,
    coldStartMs: 0,
  };
}

const here = routeTo(3306);
const elsewhere = routeTo(3307);

function registry(): ConnectionIds {
  const ids = new ConnectionIds();
  ids.register(1_000_000_001, { backendThreadId: 41, route: here });
  ids.register(1_000_000_002, { backendThreadId: 42, route: elsewhere });
  return ids;
}

const query = (sql: string, sequence = 0) =>
  encodePacket(sequence, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql, "latin1")]));

/** What the translator hands on for a client stream cut into `chunks`. */
function translate(chunks: readonly Buffer[]): Buffer {
  const { translate } = new KillTranslator(registry(), here);
  return Buffer.concat(chunks.map(translate));
}

test("KILL of a session on the same server names its backend thread", () => {
  assert.deepEqual(translate([query("KILL QUERY 1000000001")]), query("KILL QUERY 41"));
  assert.deepEqual(translate([query("kill 1000000001;")]), query("kill 41;"));
  assert.deepEqual(
    translate([query(" KILL HARD CONNECTION 1000000001 ")]),
    query(" KILL HARD CONNECTION 41 "),
  );
});

test("the binary COM_PROCESS_KILL command is translated too", () => {
  const processKill = (id: number) => {
    const payload = Buffer.alloc(5);
    payload[0] = 0x0c;
    payload.writeUInt32LE(id, 1);
    return encodePacket(0, payload);
  };
  assert.deepEqual(translate([processKill(1_000_000_001)]), processKill(41));
  assert.deepEqual(translate([processKill(1_000_000_002)]), processKill(1_000_000_002));
});

test("ids of other servers, unknown ids, other statements and non-command packets pass unchanged", () => {
  for (const bytes of [
    query("KILL 1000000002"), // a session on another server: the backend says unknown thread
    query("KILL 7"),
    query("KILL USER bob"),
    query("SELECT 'KILL 1000000001'"),
    query("KILL 1000000001", 2), // not the start of a command (LOAD DATA contents, say)
  ]) {
    assert.deepEqual(translate([bytes]), bytes);
  }
});

test("a KILL with mysql2's empty query-attributes prefix is translated too", () => {
  const withAttributes = (sql: string) =>
    encodePacket(0, Buffer.concat([Buffer.from([0x03, 0x00, 0x01]), Buffer.from(sql)]));
  assert.deepEqual(
    translate([withAttributes("KILL QUERY 1000000001")]),
    withAttributes("KILL QUERY 41"),
  );
});

test("a long LOAD DATA stream wraps to sequence 0 without being taken for a command", () => {
  const kill = query("KILL 1000000001");
  // File contents that look exactly like that command.
  const fileChunk = (sequence: number) => encodePacket(sequence, kill.subarray(4));
  // COM_QUERY "LOAD DATA LOCAL …" (0), then the file from 2 to 255, 0, 1, …
  const stream = [query("LOAD DATA LOCAL INFILE 'f' INTO TABLE t")];
  for (let i = 2; i < 260; i++) stream.push(fileChunk(i & 0xff));
  const endOfFile = encodePacket(260 & 0xff, Buffer.alloc(0));
  const input = Buffer.concat([...stream, endOfFile, kill]);
  const expected = Buffer.concat([...stream, endOfFile, query("KILL 41")]);
  assert.deepEqual(translate([input]), expected);
});

test("translation does not depend on how the stream is cut", () => {
  const otherPacket = fc
    // (No 255: a packet after one numbered 255 continues a stream; see below.)
    .tuple(fc.nat({ max: 254 }), fc.uint8Array({ maxLength: 600 }))
    .map(([sequence, body]) => ({ input: encodePacket(sequence, Buffer.from(body)) }));
  const killPacket = fc.constantFrom(
    { input: query("KILL 1000000001"), output: query("KILL 41") },
    { input: query("KILL 1000000002") },
  );
  fc.assert(
    fc.property(
      fc.array(fc.oneof(otherPacket, killPacket), { maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (packets, cuts) => {
        const input = Buffer.concat(packets.map((p) => p.input));
        const expected = Buffer.concat(
          packets.map((p) => ("output" in p && p.output ? p.output : p.input)),
        );
        assert.deepEqual(translate(splitAt(input, cuts)), expected);
      },
    ),
    { numRuns: 300 },
  );
});

test("chunks of whole packets with no KILL to rewrite are handed on as the same buffers", () => {
  const { translate } = new KillTranslator(registry(), here);
  const chunks = [
    Buffer.concat([query("SELECT 1"), query("KILL 7"), query("KILL 1000000002")]),
    encodePacket(0, Buffer.alloc(70_000, 0x03)), // longer than any KILL: not looked into
    query("KILL 1000000001").subarray(0, 3), // a header cut short: held back…
  ];
  for (const chunk of chunks.slice(0, 2)) assert.equal(translate(chunk), chunk);
  assert.equal(translate(chunks[2]!).length, 0);
  // …until the rest of the packet arrives.
  assert.deepEqual(translate(query("KILL 1000000001").subarray(3)), query("KILL 41"));
});
