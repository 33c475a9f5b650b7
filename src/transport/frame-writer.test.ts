import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import fc from "fast-check";
import { type Frame, FrameDecoder, FrameType } from "../wire/frame.ts";
import { FrameWriter } from "./frame-writer.ts";

test("frames written over many ticks arrive whole and in order, also when the reader lags", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nexus-writer-"));
  const server = createServer();
  server.listen(join(dir, "w.sock"));
  await once(server, "listening");
  try {
    const batches = fc.sample(
      fc.array(fc.oneof(fc.string({ maxLength: 40 }), fc.integer({ min: 0, max: 200_000 })), {
        minLength: 1,
        maxLength: 20,
      }),
      { numRuns: 30, seed: 42 },
    );
    const sent: { id: number; payload: Buffer }[] = [];
    const accepted = once(server, "connection") as Promise<[Socket]>;
    const writerSocket = connect(join(dir, "w.sock"));
    await once(writerSocket, "connect");
    const [reader] = await accepted;
    reader.pause(); // let the kernel buffer fill so some writes stay queued
    const writer = new FrameWriter(writerSocket);
    let id = 0;
    for (const batch of batches) {
      for (const item of batch) {
        const payload = typeof item === "string" ? Buffer.from(item) : Buffer.alloc(item, id % 251);
        id++;
        sent.push({ id, payload });
        writer.frame(FrameType.RESPONSE, id, typeof item === "string" ? item : payload);
      }
      await nextTurn();
    }
    const received: Frame[] = [];
    const decoder = new FrameDecoder(1 << 20);
    reader.on("data", (chunk: Buffer) =>
      decoder.push(chunk, (frame) =>
        received.push({ ...frame, payload: Buffer.from(frame.payload) }),
      ),
    );
    reader.resume();
    writerSocket.end();
    await once(reader, "end");
    assert.equal(received.length, sent.length);
    received.forEach((frame, index) => {
      assert.equal(frame.id, sent[index]!.id);
      assert.ok(frame.payload.equals(sent[index]!.payload), `frame ${frame.id} differs`);
    });
    reader.destroy();
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
