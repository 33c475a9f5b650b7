// The start of a message head that arrived without its end, kept until the
// next bytes come: in one buffer that doubles as it fills, so a head that
// trickles in byte by byte costs linear time, not quadratic.
export class HeadBuffer {
  #bytes: Buffer | undefined;
  #length = 0;

  /** Bytes kept (0 when no head is pending). */
  get length(): number {
    return this.#length;
  }

  /** `chunk` appended to the bytes kept; returns all of them. */
  append(chunk: Buffer): Buffer {
    let bytes = this.#bytes as Buffer;
    const length = this.#length + chunk.length;
    if (length > bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(length, bytes.length * 2));
      bytes.copy(grown, 0, 0, this.#length);
      bytes = grown;
      this.#bytes = grown;
    }
    chunk.copy(bytes, this.#length);
    this.#length = length;
    return bytes.subarray(0, length);
  }

  /** Keeps `rest`, the start of a head, until more bytes come. */
  keep(rest: Buffer): void {
    const bytes = this.#bytes;
    if (bytes && rest.buffer === bytes.buffer && rest.byteOffset === bytes.byteOffset) {
      this.#length = rest.length; // already in place
      return;
    }
    const kept = Buffer.allocUnsafe(Math.max(4096, rest.length * 2));
    rest.copy(kept);
    this.#bytes = kept;
    this.#length = rest.length;
  }

  /** Forgets the bytes kept (the head was complete). */
  clear(): void {
    this.#bytes = undefined;
    this.#length = 0;
  }
}
