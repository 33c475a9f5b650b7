// A cursor over one packet payload, reading the protocol's basic types:
// fixed-size little-endian integers, length-encoded integers and strings,
// NUL-terminated strings. Reading past the end throws MalformedPacketError.
import { MalformedPacketError } from "./malformed-packet-error.ts";

export class PayloadReader {
  readonly #payload: Buffer;
  #offset = 0;

  constructor(payload: Buffer) {
    this.#payload = payload;
  }

  get remaining(): number {
    return this.#payload.length - this.#offset;
  }

  uint8(): number {
    this.#need(1, "a 1-byte integer");
    const value = this.#payload.readUInt8(this.#offset);
    this.#offset += 1;
    return value;
  }

  uint16(): number {
    this.#need(2, "a 2-byte integer");
    const value = this.#payload.readUInt16LE(this.#offset);
    this.#offset += 2;
    return value;
  }

  uint32(): number {
    this.#need(4, "a 4-byte integer");
    const value = this.#payload.readUInt32LE(this.#offset);
    this.#offset += 4;
    return value;
  }

  bytes(length: number): Buffer {
    this.#need(length, `${length} bytes`);
    const value = this.#payload.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  /** Everything up to the end of the payload. */
  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  /** A string ended by NUL (the NUL is consumed, not returned). */
  nulTerminated(): Buffer {
    const end = this.#payload.indexOf(0, this.#offset);
    if (end < 0) throw new MalformedPacketError("a NUL-terminated string has no NUL");
    const value = this.#payload.subarray(this.#offset, end);
    this.#offset = end + 1;
    return value;
  }

  /** A string ended by NUL or by the end of the payload. */
  nulTerminatedOrRest(): Buffer {
    return this.#payload.indexOf(0, this.#offset) < 0 ? this.rest() : this.nulTerminated();
  }

  /** A length-encoded integer; 0xfb (NULL) and 0xff are not integers here. */
  lengthEncodedInteger(): number {
    const first = this.uint8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.uint16();
    if (first === 0xfd) {
      this.#need(3, "a 3-byte integer");
      const value = this.#payload.readUIntLE(this.#offset, 3);
      this.#offset += 3;
      return value;
    }
    if (first === 0xfe) {
      this.#need(8, "an 8-byte integer");
      const value = this.#payload.readBigUInt64LE(this.#offset);
      this.#offset += 8;
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new MalformedPacketError("a length-encoded integer is too large");
      }
      return Number(value);
    }
    throw new MalformedPacketError(`0x${first.toString(16)} does not start an integer`);
  }

  lengthEncodedBytes(): Buffer {
    return this.bytes(this.lengthEncodedInteger());
  }

  #need(count: number, what: string): void {
    if (this.#offset + count > this.#payload.length) {
      throw new MalformedPacketError(`the packet ends before ${what}`);
    }
  }
}

/** Encodes `value` as a length-encoded integer. */
export function encodeLengthEncodedInteger(value: number): Buffer {
  if (value < 0xfb) return Buffer.from([value]);
  if (value <= 0xffff) {
    const out = Buffer.alloc(3);
    out[0] = 0xfc;
    out.writeUInt16LE(value, 1);
    return out;
  }
  if (value <= 0xffffff) {
    const out = Buffer.alloc(4);
    out[0] = 0xfd;
    out.writeUIntLE(value, 1, 3);
    return out;
  }
  const out = Buffer.alloc(9);
  out[0] = 0xfe;
  out.writeBigUInt64LE(BigInt(value), 1);
  return out;
}
