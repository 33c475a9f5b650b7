// Splits what a client sends into command lines. A line longer than the limit
// is swallowed up to its end and reported once, so the session can answer
// 500 and carry on (RFC 5321 §4.5.3.1.4). Whatever has not been taken as a
// line yet can be handed over untouched to the backend, or dropped after
// STARTTLS.

export type CommandLine =
  | { readonly kind: "line"; readonly text: string; readonly raw: Buffer }
  | { readonly kind: "too_long" };

export class CommandLineReader {
  readonly #maxLength: number;
  #buffer: Buffer = Buffer.alloc(0);
  #discarding = false;

  /** `maxLength` counts the line's bytes including CRLF. */
  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** The next whole line, or undefined until more bytes arrive. */
  next(): CommandLine | undefined {
    const newline = this.#buffer.indexOf(0x0a);
    if (newline < 0) {
      if (this.#buffer.length >= this.#maxLength) {
        // Too long already: drop it now rather than buffer without bound.
        this.#discarding = true;
        this.#buffer = Buffer.alloc(0);
      }
      return undefined;
    }
    const raw = this.#buffer.subarray(0, newline + 1);
    this.#buffer = this.#buffer.subarray(newline + 1);
    if (this.#discarding) {
      this.#discarding = false;
      return { kind: "too_long" };
    }
    if (raw.length > this.#maxLength) return { kind: "too_long" };
    // Accept a bare LF as well as CRLF: common in hand-typed sessions.
    const end = raw[newline - 1] === 0x0d ? newline - 1 : newline;
    return { kind: "line", text: raw.toString("utf8", 0, end), raw };
  }

  /** True while bytes wait that next() has not returned as a line. */
  get pending(): boolean {
    return this.#buffer.length > 0 || this.#discarding;
  }

  /** Takes every byte not yet returned as a line. */
  takeRest(): Buffer {
    const rest = this.#discarding ? Buffer.alloc(0) : this.#buffer;
    this.#buffer = Buffer.alloc(0);
    this.#discarding = false;
    return rest;
  }
}
