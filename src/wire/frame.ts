// Framed RPC: the binary dialect. A connection opens with a 4-byte preface,
// then carries frames, each a fixed 10-byte header and a payload:
//
//   offset 0  u32 BE  payload length (bytes after the header)
//   offset 4  u8      frame type
//   offset 5  u8      flags (reserved, 0)
//   offset 6  u32 BE  request id (0 for connection-level frames)
//
// docs/wire.md is the normative description.

/** First bytes of a framed-RPC connection: NUL cannot start JSON or an HTTP request. */
export const PREFACE = Buffer.from([0x00, 0x4e, 0x58, 0x31]); // "\0NX1"
export const HEADER_SIZE = 10;

export const FrameType = {
  HELLO: 0x01,
  WELCOME: 0x02,
  REQUEST: 0x03,
  RESPONSE: 0x04,
  ERROR: 0x05,
  CANCEL: 0x06,
  GOAWAY: 0x07,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

export interface Frame {
  readonly type: FrameType;
  readonly id: number;
  readonly payload: Buffer;
}

/** One buffer holding the header and the payload: a single allocation and a single write. */
export function encodeFrame(type: FrameType, id: number, payload?: Buffer | string): Buffer {
  const length = payloadLength(payload);
  const frame = Buffer.allocUnsafe(HEADER_SIZE + length);
  writeFrame(frame, 0, type, id, payload, length);
  return frame;
}

/** The payload's size in bytes (UTF-8 for a string). */
export function payloadLength(payload: Buffer | string | undefined): number {
  if (payload === undefined) return 0;
  return typeof payload === "string" ? Buffer.byteLength(payload) : payload.length;
}

/** Writes a whole frame at `offset`; the target must have HEADER_SIZE + length bytes there. */
export function writeFrame(
  target: Buffer,
  offset: number,
  type: FrameType,
  id: number,
  payload: Buffer | string | undefined,
  length: number,
): void {
  target.writeUInt32BE(length, offset);
  target[offset + 4] = type;
  target[offset + 5] = 0;
  target.writeUInt32BE(id >>> 0, offset + 6);
  if (typeof payload === "string") target.write(payload, offset + HEADER_SIZE, "utf8");
  else if (payload !== undefined) payload.copy(target, offset + HEADER_SIZE);
}

/** A frame the decoder refuses; the connection cannot continue after it. */
export class FrameError extends Error {
  readonly code: "PAYLOAD_TOO_LARGE" | "BAD_FRAME";
  constructor(code: "PAYLOAD_TOO_LARGE" | "BAD_FRAME", message: string) {
    super(message);
    this.name = "FrameError";
    this.code = code;
  }
}

/**
 * Splits a byte stream into frames. Payloads of frames that lie whole inside
 * one chunk are views into that chunk (no copy); a frame split across chunks
 * is gathered and joined once, when its last byte arrives.
 */
export class FrameDecoder {
  readonly #maxPayload: number;
  #parts: Buffer[] = [];
  #partsLength = 0;
  /** Bytes needed before decoding can progress: a header, or the whole frame once its header is known. */
  #needed = HEADER_SIZE;

  constructor(maxPayload: number) {
    this.#maxPayload = maxPayload;
  }

  /** Decodes every whole frame received so far; throws FrameError on bad input. */
  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    let data = chunk;
    if (this.#partsLength > 0) {
      this.#parts.push(chunk);
      this.#partsLength += chunk.length;
      if (this.#partsLength < this.#needed) return;
      data = Buffer.concat(this.#parts, this.#partsLength);
      this.#parts = [];
      this.#partsLength = 0;
    }
    let offset = 0;
    this.#needed = HEADER_SIZE;
    while (data.length - offset >= HEADER_SIZE) {
      const length = data.readUInt32BE(offset);
      const type = data[offset + 4]!;
      if (length > this.#maxPayload) {
        throw new FrameError(
          "PAYLOAD_TOO_LARGE",
          `frame payload of ${length} bytes exceeds the limit of ${this.#maxPayload}`,
        );
      }
      if (!KNOWN_TYPES.has(type)) throw new FrameError("BAD_FRAME", `unknown frame type ${type}`);
      if (data[offset + 5] !== 0) throw new FrameError("BAD_FRAME", "frame flags must be 0");
      const end = offset + HEADER_SIZE + length;
      if (end > data.length) {
        this.#needed = HEADER_SIZE + length;
        break;
      }
      const id = data.readUInt32BE(offset + 6);
      onFrame({ type: type as FrameType, id, payload: data.subarray(offset + HEADER_SIZE, end) });
      offset = end;
    }
    if (offset < data.length) {
      this.#parts.push(data.subarray(offset));
      this.#partsLength = data.length - offset;
    }
  }

  /** Bytes received that do not yet form a whole frame. */
  get bufferedBytes(): number {
    return this.#partsLength;
  }
}
