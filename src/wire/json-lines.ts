// JSON lines: one JSON object per message. A message ends at a newline, or at
// the brace that closes its top-level object (for clients that send one
// object without a newline and wait). The scanner keeps its state between
// chunks, so every byte is looked at once.
import { isWhitespace } from "./dialect.ts";

const NEWLINE = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export class LineTooLongError extends Error {
  constructor(limit: number) {
    super(`message exceeds the limit of ${limit} bytes`);
    this.name = "LineTooLongError";
  }
}

export class JsonMessageSplitter {
  readonly #maxBytes: number;
  #parts: Buffer[] = [];
  #partsLength = 0;
  #inMessage = false;
  /** False for a message that does not start with `{`: it runs to the newline and fails to parse. */
  #isObject = false;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Calls onMessage with the bytes of each complete message; throws LineTooLongError. */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (!this.#inMessage) {
        if (isWhitespace(byte)) continue;
        this.#begin(byte === 0x7b);
        start = i;
        if (this.#isObject) continue;
      }
      if (byte === NEWLINE) {
        this.#emit(chunk, start, i, onMessage);
      } else if (this.#isObject && this.#scan(byte)) {
        this.#emit(chunk, start, i + 1, onMessage);
      }
    }
    if (this.#inMessage) {
      const rest = chunk.length - start;
      if (this.#partsLength + rest > this.#maxBytes) throw new LineTooLongError(this.#maxBytes);
      if (rest > 0) {
        this.#parts.push(chunk.subarray(start));
        this.#partsLength += rest;
      }
    }
  }

  #begin(isObject: boolean): void {
    this.#inMessage = true;
    this.#isObject = isObject;
    this.#depth = isObject ? 1 : 0;
    this.#inString = false;
    this.#escaped = false;
  }

  /** Tracks one byte of an object; true when it closes the top-level object. */
  #scan(byte: number): boolean {
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (byte === BACKSLASH) this.#escaped = true;
      else if (byte === QUOTE) this.#inString = false;
      return false;
    }
    if (byte === QUOTE) this.#inString = true;
    else if (byte === 0x7b || byte === 0x5b) this.#depth++;
    else if (byte === 0x7d || byte === 0x5d) return --this.#depth === 0;
    return false;
  }

  #emit(chunk: Buffer, start: number, end: number, onMessage: (message: Buffer) => void): void {
    const length = this.#partsLength + (end - start);
    if (length > this.#maxBytes) throw new LineTooLongError(this.#maxBytes);
    let message = chunk.subarray(start, end);
    if (this.#partsLength > 0) {
      this.#parts.push(message);
      message = Buffer.concat(this.#parts, length);
      this.#parts = [];
      this.#partsLength = 0;
    }
    this.#inMessage = false;
    onMessage(message);
  }
}
