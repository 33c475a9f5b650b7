import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeFrame, FrameDecoder, FrameType, PREFACE } from "../../src/wire/index.ts";
import { TOKEN, tempMesh, users } from "./fixtures.ts";
import { RawPeer } from "./raw-socket.ts";

/** Resolves whether `peer` was closed by the server within `ms` (generous: the server's own clock decides). */
async function closedWithin(peer: RawPeer, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([peer.untilClosed().then(() => true as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test("an HTTP request whose body never arrives is closed after the idle timeout", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, {
    limits: { handshakeTimeoutMs: 100, idleTimeoutMs: 200 },
  });
  const stalled = await RawPeer.open(server.path);
  stalled.write(
    `POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100\r\n\r\n{"a":`,
  );
  assert.equal(await closedWithin(stalled, 10_000), true, "the stalled request is still open");
  // A body that arrives in time, in pieces, is still served.
  const slow = await RawPeer.open(server.path);
  const body = JSON.stringify({ said: "hello" });
  slow.write(
    `POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  slow.write(body.slice(0, 5));
  slow.write(body.slice(5));
  await slow.until(() => slow.text.includes(body));
  assert.match(slow.text, /^HTTP\/1.1 200/);
  slow.close();
});

/** Resolves `read()` once it has kept the same value for a second: the server has settled. */
async function settled(read: () => number): Promise<number> {
  let last = read();
  for (let stable = 0; stable < 5; ) {
    await sleep(200);
    const now = read();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}

test("a JSON-lines client that does not read its replies stops being read", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, { limits: { maxInFlight: 16 } });
  const client = connect(server.path);
  await once(client, "connect");
  client.pause();
  try {
    // A slow first request holds every later reply in order behind it, then
    // the replies meet a client that reads nothing: the server must stop
    // taking requests in, so the client's writes back up.
    const lines = 60_000;
    client.write(`${JSON.stringify({ path: "/slow/1000", auth_token: TOKEN })}\n`);
    client.write('{"path":"/health"}\n'.repeat(lines));
    const unsent = await settled(() => client.writableLength);
    assert.ok(unsent > 0, "the server read every request while no reply was read");
    // Once the client reads, every request is answered, in order.
    let received = "";
    client.setEncoding("utf8");
    const answered = new Promise<void>((resolve) => {
      client.on("data", (text: string) => {
        received += text;
        if (received.endsWith("\n") && received.split("\n").length > lines + 1) resolve();
      });
    });
    client.resume();
    await answered;
    const replies = received
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    assert.deepEqual(replies[0], { data: { waited: 1000 } });
    assert.equal(replies.length, lines + 1);
    for (const reply of replies.slice(1)) {
      if (reply.error) assert.equal(reply.error.code, "TOO_MANY_REQUESTS");
      else assert.deepEqual(reply, { data: { ok: true } });
    }
  } finally {
    client.destroy();
  }
});

test("a framed RPC client that does not read its replies stops being read", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  const client = connect(server.path);
  await once(client, "connect");
  client.pause();
  try {
    const requests = 60_000;
    const hello = JSON.stringify({ version: 1, codecs: ["json"], token: TOKEN });
    const frames = [PREFACE, encodeFrame(FrameType.HELLO, 0, hello)];
    for (let id = 1; id <= requests; id++) {
      frames.push(encodeFrame(FrameType.REQUEST, id, '["GET","/health"]'));
    }
    client.write(Buffer.concat(frames));
    const unsent = await settled(() => client.writableLength);
    assert.ok(unsent > 0, "the server read every request while no reply was read");
    // Once the client reads, every request is answered (or refused over maxInFlight).
    const answered = new Set<number>();
    const decoder = new FrameDecoder(1 << 20);
    await new Promise<void>((resolve) => {
      client.on("data", (chunk: Buffer) => {
        decoder.push(chunk, (frame) => {
          if (frame.type === FrameType.ERROR) {
            assert.equal(JSON.parse(frame.payload.toString()).code, "TOO_MANY_REQUESTS");
          }
          if (frame.id > 0) answered.add(frame.id);
        });
        if (answered.size === requests) resolve();
      });
      client.resume();
    });
    assert.equal(answered.size, requests);
  } finally {
    client.destroy();
  }
});
