// Decodes a chunked body (RFC 9112 §7.1) as it arrives, in pieces of any
// size: the chunk data goes on as slices of the input (no copy), sizes,
// extensions and trailer fields are checked and dropped. Strict: CRLF only,
// hex sizes that fit in 2^53, bounded extension and trailer lengths, so a
// peer cannot make the proxy read a body differently from the next hop.
// Used for request bodies from clients and response bodies from backends.
import type { Fail } from "./field-lines.ts";

const CR = 0x0d;
const LF = 0x0a;
/** Longest chunk-size line (size and extensions) and trailer section. */
const MAX_LINE = 4096;
const MAX_TRAILERS = 16 * 1024;
const MAX_SIZE_DIGITS = 13; // 16^13 = 2^52
/** Bytes of a token (RFC 9110 §5.6.2), the name of a trailer field. */
const TOKEN = new Uint8Array(128);
for (const byte of Buffer.from(
  "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
)) {
  TOKEN[byte] = 1;
}

type State =
  | "size" // hex digits of a chunk size
  | "size-ws" // whitespace after the size, which only a `;` may follow
  | "extension" // after the `;`, up to CR
  | "size-lf" // the LF ending the size line
  | "data" // chunk data, `remaining` bytes left
  | "data-cr" // the CRLF after chunk data
  | "data-lf"
  | "trailer-name" // a trailer field's name (or the final empty line), up to `:` or CR
  | "trailer-value" // a trailer field's value, up to CR
  | "trailer-lf"
  | "done";

export class ChunkedDecoder {
  readonly #fail: Fail;
  #state: State = "size";
  #remaining = 0;
  #digits = 0;
  #lineBytes = 0;
  #trailerBytes = 0;
  /** The current trailer line is empty so far. */
  #emptyLine = true;

  /** `fail` makes the error thrown for malformed framing. */
  constructor(fail: Fail) {
    this.#fail = fail;
  }

  /** The last chunk and trailer section have been read. */
  get done(): boolean {
    return this.#state === "done";
  }

  /**
   * Reads `input` until it is used up or the body ends; `onData` gets each
   * piece of chunk data. Returns how many bytes of `input` were the body's
   * (the rest, if any, came after it). Throws what `fail` makes.
   */
  push(input: Buffer, onData: (data: Buffer) => void): number {
    let i = 0;
    while (i < input.length && this.#state !== "done") {
      if (this.#state === "data") {
        const take = Math.min(this.#remaining, input.length - i);
        onData(input.subarray(i, i + take));
        i += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = "data-cr";
        continue;
      }
      this.#step(input[i]!);
      i += 1;
    }
    return i;
  }

  #step(byte: number): void {
    switch (this.#state) {
      case "size": {
        const digit = hexValue(byte);
        if (digit >= 0) {
          if (++this.#digits > MAX_SIZE_DIGITS) throw this.#fail("chunk too large");
          this.#remaining = this.#remaining * 16 + digit;
          this.#countLine();
          return;
        }
        // After the size: the line's end, or an extension (`;`, maybe after
        // whitespace). Anything else, like the `6` of `5 6`, is not a size.
        if (this.#digits === 0) throw this.#fail("malformed chunk size");
        this.#afterSize(byte);
        return;
      }
      case "size-ws":
        this.#afterSize(byte);
        return;
      case "extension":
        // Extensions (`;name=value`) are skipped, but only printable bytes and tabs.
        if (byte === CR) {
          this.#state = "size-lf";
          return;
        }
        if (isControl(byte)) throw this.#fail("malformed chunk extension");
        this.#countLine();
        return;
      case "size-lf":
        this.#expect(byte, LF);
        this.#digits = 0;
        this.#lineBytes = 0;
        if (this.#remaining > 0) {
          this.#state = "data";
        } else {
          this.#state = "trailer-name";
          this.#emptyLine = true;
        }
        return;
      case "data-cr":
        this.#expect(byte, CR);
        this.#state = "data-lf";
        return;
      case "data-lf":
        this.#expect(byte, LF);
        this.#state = "size";
        return;
      // Trailer fields are dropped, but read as strictly as header fields:
      // a token, a colon, then no control bytes but tabs.
      case "trailer-name":
        this.#countTrailer();
        if (byte === CR && this.#emptyLine) {
          this.#state = "trailer-lf";
        } else if (byte === 0x3a && !this.#emptyLine) {
          this.#state = "trailer-value";
        } else if (byte < 0x80 && TOKEN[byte] === 1) {
          this.#emptyLine = false;
        } else {
          throw this.#fail("malformed trailer");
        }
        return;
      case "trailer-value":
        this.#countTrailer();
        if (byte === CR) {
          this.#state = "trailer-lf";
        } else if (isControl(byte)) {
          throw this.#fail("malformed trailer");
        }
        return;
      case "trailer-lf":
        this.#expect(byte, LF);
        if (this.#emptyLine) {
          this.#state = "done";
        } else {
          this.#state = "trailer-name";
          this.#emptyLine = true;
        }
        return;
      default:
        return;
    }
  }

  /** The byte after a chunk size, or after whitespace that followed it. */
  #afterSize(byte: number): void {
    if (byte === CR && this.#state === "size") {
      this.#state = "size-lf";
      return;
    }
    if (byte === 0x3b) {
      this.#state = "extension";
    } else if (byte === 0x20 || byte === 0x09) {
      this.#state = "size-ws";
    } else {
      throw this.#fail("malformed chunk size");
    }
    this.#countLine();
  }

  #countLine(): void {
    if (++this.#lineBytes > MAX_LINE) throw this.#fail("chunk size line too long");
  }

  #countTrailer(): void {
    if (++this.#trailerBytes > MAX_TRAILERS) throw this.#fail("trailers too large");
  }

  #expect(byte: number, wanted: number): void {
    if (byte !== wanted) throw this.#fail("malformed chunk framing");
  }
}

/** Control bytes other than HTAB; obs-text (0x80–0xff) is allowed. */
function isControl(byte: number): boolean {
  return byte !== 0x09 && (byte < 0x20 || byte === 0x7f);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}
