import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { splitAt } from "../../test/support/chunks.ts";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameError,
  FrameType,
  HEADER_SIZE,
} from "./frame.ts";

const frameTypes = Object.values(FrameType);

const arbitraryFrame = fc.record(
  {
    type: fc.constantFrom(...frameTypes),
    id: fc.nat({ max: 0xffffffff }),
    payload: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  },
  { noNullPrototype: true },
);

test("the header is 10 bytes: length, type, flags, id, big-endian", () => {
  const frame = encodeFrame(FrameType.REQUEST, 0x01020304, Buffer.from("hi"));
  assert.deepEqual([...frame], [0, 0, 0, 2, 3, 0, 1, 2, 3, 4, 0x68, 0x69]);
  assert.equal(HEADER_SIZE, 10);
  assert.deepEqual(encodeFrame(FrameType.CANCEL, 7), Buffer.from([0, 0, 0, 0, 6, 0, 0, 0, 0, 7]));
  assert.deepEqual(
    encodeFrame(FrameType.RESPONSE, 1, "é"),
    Buffer.from([0, 0, 0, 2, 4, 0, 0, 0, 0, 1, 0xc3, 0xa9]),
  );
});

test("any sequence of frames round-trips, however the stream is cut", () => {
  fc.assert(
    fc.property(
      fc.array(arbitraryFrame, { maxLength: 20 }),
      fc.array(fc.nat()),
      (frames, offsets) => {
        const stream = Buffer.concat(
          frames.map((frame) => encodeFrame(frame.type, frame.id, frame.payload)),
        );
        const decoder = new FrameDecoder(1024);
        const decoded: Frame[] = [];
        for (const chunk of splitAt(stream, offsets)) {
          decoder.push(chunk, (frame) =>
            decoded.push({ ...frame, payload: Buffer.from(frame.payload) }),
          );
        }
        assert.deepEqual(decoded, frames);
        assert.equal(decoder.bufferedBytes, 0);
      },
    ),
  );
});

test("a truncated stream yields only its whole frames and keeps the rest", () => {
  fc.assert(
    fc.property(
      fc.array(arbitraryFrame, { minLength: 1, maxLength: 5 }),
      fc.nat(),
      (frames, cutAt) => {
        const stream = Buffer.concat(
          frames.map((frame) => encodeFrame(frame.type, frame.id, frame.payload)),
        );
        const end = cutAt % stream.length;
        const decoder = new FrameDecoder(1024);
        let count = 0;
        let consumed = 0;
        decoder.push(stream.subarray(0, end), (frame) => {
          count++;
          consumed += HEADER_SIZE + frame.payload.length;
        });
        assert.ok(count < frames.length);
        assert.equal(consumed + decoder.bufferedBytes, end);
      },
    ),
  );
});

test("random bytes either decode or raise a FrameError, nothing else", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
      const decoder = new FrameDecoder(256);
      try {
        for (const chunk of chunks) decoder.push(Buffer.from(chunk), () => {});
      } catch (error) {
        assert.ok(error instanceof FrameError, String(error));
      }
    }),
  );
});

test("an oversize frame is refused from its header alone", () => {
  const decoder = new FrameDecoder(16);
  const header = encodeFrame(FrameType.REQUEST, 1, Buffer.alloc(17)).subarray(0, HEADER_SIZE);
  assert.throws(() => decoder.push(header, () => {}), { code: "PAYLOAD_TOO_LARGE" });
});

test("unknown frame types and non-zero flags are refused", () => {
  const unknown = Buffer.from([0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 1]);
  assert.throws(() => new FrameDecoder(16).push(unknown, () => {}), { code: "BAD_FRAME" });
  const flagged = Buffer.from([0, 0, 0, 0, 3, 1, 0, 0, 0, 1]);
  assert.throws(() => new FrameDecoder(16).push(flagged, () => {}), { code: "BAD_FRAME" });
});

test("a frame split across chunks is joined once its last byte arrives", () => {
  const payload = Buffer.alloc(100_000, 7);
  const stream = encodeFrame(FrameType.RESPONSE, 9, payload);
  const decoder = new FrameDecoder(200_000);
  const frames: Frame[] = [];
  for (let offset = 0; offset < stream.length; offset += 1000) {
    decoder.push(stream.subarray(offset, offset + 1000), (frame) => frames.push(frame));
  }
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0]!.payload, payload);
});
