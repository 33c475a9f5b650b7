import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encodeFrame, FrameType, PREFACE } from "../../src/wire/index.ts";
import { TOKEN, tempMesh, users } from "./fixtures.ts";
import { RawPeer } from "./raw-socket.ts";

test("an oversize frame, line or body gets PAYLOAD_TOO_LARGE; others keep being served", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, { limits: { maxMessageBytes: 1024 } });
  const client = mesh.client().service(users);
  assert.equal(await client.call("POST /echo", { data: "x".repeat(500) }), "x".repeat(500));

  const frames = await RawPeer.open(server.path);
  frames.hello(TOKEN);
  frames.write(encodeFrame(FrameType.REQUEST, 1, Buffer.alloc(2000)).subarray(0, 100));
  await frames.untilClosed();
  const error = frames.frames().find((frame) => frame.type === FrameType.ERROR)!;
  assert.equal(JSON.parse(error.payload.toString()).code, "PAYLOAD_TOO_LARGE");

  const lines = await RawPeer.open(server.path);
  lines.write(`{"path":"/echo","data":"${"x".repeat(2000)}"}\n`);
  await lines.untilClosed();
  assert.equal(JSON.parse(lines.text).error.code, "PAYLOAD_TOO_LARGE");

  const http = await RawPeer.open(server.path);
  http.write(`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n${"x".repeat(2000)}`);
  await http.until(() => http.text.includes("\r\n\r\n"));
  assert.match(http.text, /^HTTP\/1.1 413/);
  http.close();

  await assert.rejects(client.call("POST /echo", { data: "x".repeat(2000) }), {
    code: "PAYLOAD_TOO_LARGE",
  });
  assert.equal((await client.call("GET /health")).ok, true);
});

test("requests over the in-flight limit of a connection get TOO_MANY_REQUESTS", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, { limits: { maxInFlight: 2 } });
  const client = mesh.client().service(users);
  const results = await Promise.allSettled(
    [1, 2, 3].map(() => client.call("GET /slow/:ms", { params: { ms: "100" } })),
  );
  assert.deepEqual(
    results.map((result) => result.status),
    ["fulfilled", "fulfilled", "rejected"],
  );
  assert.equal((results[2] as PromiseRejectedResult).reason.code, "TOO_MANY_REQUESTS");

  const lines = await RawPeer.open(server.path);
  lines.write(`${JSON.stringify({ path: "/slow/100", auth_token: TOKEN })}\n`.repeat(3));
  await lines.until(() => lines.text.split("\n").length === 4);
  const replies = lines.text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    replies.map((reply) => reply.error?.code),
    [undefined, undefined, "TOO_MANY_REQUESTS"],
  );
  lines.close();
});

test("silent connections are closed after the handshake timeout, idle ones after the idle timeout", async () => {
  await using mesh = await tempMesh();
  const limits = { handshakeTimeoutMs: 100, idleTimeoutMs: 200 };
  const server = await mesh.serve(users, { limits });
  const silent = await RawPeer.open(server.path);
  await silent.untilClosed();

  const noHello = await RawPeer.open(server.path);
  noHello.write(PREFACE);
  await noHello.untilClosed();
  assert.equal(JSON.parse(noHello.frames()[0]!.payload.toString()).code, "TIMEOUT");

  const idle = await RawPeer.open(server.path);
  idle.hello(TOKEN);
  await idle.until(() => idle.frames().length === 1);
  await idle.untilClosed();
  const goaway = idle.frames()[1]!;
  assert.equal(goaway.type, FrameType.GOAWAY);
  assert.deepEqual(JSON.parse(goaway.payload.toString()), { reason: "idle" });

  // A Nexus client leaves on the idle GOAWAY and reconnects for its next call.
  const idleClient = mesh.client().service(users);
  assert.equal((await idleClient.call("GET /health")).ok, true);
  await eventually(() => server.stats.connections === 0);
  assert.equal((await idleClient.call("GET /health")).ok, true);

  const slowHeaders = await RawPeer.open(server.path);
  slowHeaders.write("GET /health HTTP/1.1\r\nHost: x\r\n");
  await slowHeaders.untilClosed();

  const slowHandler = await RawPeer.open(server.path);
  slowHandler.write(`GET /slow/300 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
  await slowHandler.until(() => slowHandler.text.includes('{"waited":300}'));
  await slowHandler.untilClosed();

  const idleLines = await RawPeer.open(server.path);
  idleLines.write('{"path":"/health"}\n');
  await idleLines.untilClosed();
  assert.equal(JSON.parse(idleLines.text).data.ok, true);
});

/** Waits for a condition the server reaches on its own clock; checks every 20 ms, gives up after 10 s. */
async function eventually(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) throw new Error("the condition did not hold within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("random, truncated and malformed bytes never crash the server", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, { limits: { maxMessageBytes: 4096 } });
  const client = mesh.client().service(users);
  const validHello = Buffer.concat([
    PREFACE,
    encodeFrame(FrameType.HELLO, 0, `{"version":1,"token":"${TOKEN}"}`),
  ]);
  const start = fc.constantFrom(
    Buffer.alloc(0),
    PREFACE,
    validHello,
    Buffer.from('{"path":"/user/1","auth_token":"'),
    Buffer.from("POST /echo HTTP/1.1\r\n"),
  );
  const frame = fc
    .record({
      type: fc.integer({ min: 0, max: 9 }),
      id: fc.nat(),
      payload: fc.oneof(
        fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
        fc.json().map((text) => Buffer.from(text)),
      ),
    })
    .map(({ type, id, payload }) => {
      const bytes = encodeFrame(FrameType.REQUEST, id, payload);
      bytes[4] = type;
      return bytes;
    });
  const tail = fc.array(
    fc.oneof(
      frame,
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    ),
    { maxLength: 6 },
  );
  await fc.assert(
    fc.asyncProperty(start, tail, fc.nat(), async (head, parts, cutAt) => {
      const bytes = Buffer.concat([head, ...parts]);
      const peer = await RawPeer.open(server.path);
      peer.socket.end(bytes.subarray(0, bytes.length === 0 ? 0 : cutAt % (bytes.length + 1)));
      await peer.untilClosed();
    }),
    { numRuns: 60 },
  );
  assert.equal((await client.call("GET /user/:id", { params: { id: "1" } })).id, 1);
});

test("a peer that sent in time is not cut when the server's own loop stalled past the timeout", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, { limits: { handshakeTimeoutMs: 100 } });
  const requests: [string | Buffer, (peer: RawPeer) => boolean][] = [
    [
      Buffer.concat([
        PREFACE,
        encodeFrame(FrameType.HELLO, 0, JSON.stringify({ version: 1, token: TOKEN })),
      ]),
      (peer) => peer.frames().length === 1,
    ],
    ['{"path":"/health"}\n', (peer) => peer.text.endsWith("\n")],
    ["GET /health HTTP/1.1\r\nHost: x\r\n\r\n", (peer) => peer.text.includes('{"ok":true}')],
  ];
  for (const [request, answered] of requests) {
    const peer = await RawPeer.open(server.path);
    // Once accepted, the server's handshake timer runs.
    while (server.stats.connections === 0) await new Promise(setImmediate);
    peer.write(request);
    // The whole process stalls, as on a loaded machine, with the request already sent.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    await peer.until(() => answered(peer));
    peer.close();
    while (server.stats.connections > 0) await new Promise(setImmediate);
  }
});
