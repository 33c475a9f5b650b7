// docs/wire.md's examples: each hex block must decode, with the codec, to the
// JSON block that follows it.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import {
  codecs,
  decodeRequest,
  type Frame,
  FrameDecoder,
  FrameType,
  PREFACE,
} from "../../src/wire/index.ts";

interface Expected {
  preface?: boolean;
  codec?: "json" | "msgpack";
  frames: { type: keyof typeof FrameType; id: number; payload: unknown }[];
}

const names = new Map(Object.entries(FrameType).map(([name, type]) => [type as number, name]));

async function examples(): Promise<{ bytes: Buffer; expected: Expected }[]> {
  const text = await readFile(new URL("../../docs/wire.md", import.meta.url), "utf8");
  const pairs = [...text.matchAll(/```hex\n([\s\S]*?)```\s*```json\n([\s\S]*?)```/g)];
  return pairs.map(([, hex = "", json = ""]) => ({
    bytes: Buffer.from(hex.replace(/\s+/g, ""), "hex"),
    expected: JSON.parse(json) as Expected,
  }));
}

test("the examples in docs/wire.md decode to what the document says", async () => {
  const found = await examples();
  assert.equal(found.length, 5);
  for (const { bytes, expected } of found) {
    let stream = bytes;
    if (expected.preface === true) {
      assert.deepEqual(stream.subarray(0, PREFACE.length), PREFACE);
      stream = stream.subarray(PREFACE.length);
    }
    const codec = codecs[expected.codec ?? "json"];
    const frames: Frame[] = [];
    const decoder = new FrameDecoder(1 << 20);
    decoder.push(stream, (frame) => frames.push(frame));
    assert.equal(decoder.bufferedBytes, 0);
    const decoded = frames.map((frame) => {
      const type = names.get(frame.type)!;
      let payload: unknown;
      if (frame.type === FrameType.REQUEST) {
        const request = decodeRequest(codec, frame.payload);
        payload = [request.method, request.path, request.data ?? null, request.timeoutMs];
      } else if (frame.type === FrameType.RESPONSE) {
        payload = codec.decode(frame.payload);
      } else {
        payload = frame.payload.length === 0 ? null : JSON.parse(frame.payload.toString());
      }
      return { type, id: frame.id, payload };
    });
    assert.deepEqual(decoded, expected.frames);
  }
});
