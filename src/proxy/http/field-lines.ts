// The field section of an HTTP/1.1 message head (RFC 9112 §5), read the same
// strict way for requests from clients and responses from backends: a
// proxy that reads a message differently from the next hop is open to
// smuggling and splitting, so anything ambiguous is an error. Each side
// throws its own error class (400 for a client, 502 for a backend).

/** A field name is a token (RFC 9110 §5.6.2). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values may hold visible characters, spaces, tabs and obs-text, nothing else. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what it looks for
const BAD_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;
const DIGITS = /^\d{1,15}$/;

export type Fail = (message: string) => Error;

export interface FieldSection {
  /** Field names and values as sent, flat: name, value, name, value… */
  readonly headers: string[];
  /** Content-Length, when declared (repeats that agree count once). */
  readonly contentLength: number | undefined;
  /** Every Transfer-Encoding value, comma-joined. */
  readonly transferEncoding: string | undefined;
  /** Every Connection value's tokens, lower-cased. */
  readonly connection: readonly string[];
}

/**
 * Reads `lines[from..]` (each a field line without its CRLF). `onField`
 * sees every field by its lower-cased name, for what the caller reads
 * itself (Host, Expect, Keep-Alive…).
 */
export function readFieldLines(
  lines: readonly string[],
  from: number,
  fail: Fail,
  onField?: (lowerName: string, value: string) => void,
): FieldSection {
  const headers: string[] = [];
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection: string[] = [];
  for (let i = from; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw fail("malformed header field");
    const value = trimWhitespace(line.slice(colon + 1));
    if (BAD_VALUE.test(value)) throw fail("malformed header value");
    headers.push(name, value);
    const lower = name.toLowerCase();
    switch (lower) {
      case "content-length":
        contentLength = mergeContentLength(contentLength, value, fail);
        break;
      case "transfer-encoding":
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      case "connection":
        connection = connection.concat(listTokens(value));
        break;
    }
    onField?.(lower, value);
  }
  return { headers, contentLength, transferEncoding, connection };
}

/** The lower-cased tokens of a comma-separated list, empty ones left out. */
export function listTokens(value: string): string[] {
  const tokens: string[] = [];
  for (const part of value.split(",")) {
    const token = trimWhitespace(part).toLowerCase();
    if (token !== "") tokens.push(token);
  }
  return tokens;
}

/** Repeated or comma-listed Content-Length values must all agree (RFC 9110 §8.6). */
function mergeContentLength(previous: number | undefined, value: string, fail: Fail): number {
  let length = previous;
  for (const part of value.split(",")) {
    const text = trimWhitespace(part);
    if (!DIGITS.test(text)) throw fail("malformed Content-Length");
    const parsed = Number(text);
    if (length !== undefined && length !== parsed) throw fail("conflicting Content-Length values");
    length = parsed;
  }
  return length as number;
}

/**
 * `text` without leading and trailing optional whitespace (RFC 9110 §5.6.3):
 * SP and HTAB only, where `trim()` would also eat control bytes and NBSP and
 * hide them from the checks. A loop, not a regular expression, whose
 * backtracking on long runs of spaces a peer could make quadratic.
 */
export function trimWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** An LF not preceded by CR at or after `from`: a head with it would never be complete. */
export function hasBareLineFeed(buffer: Buffer, from: number): boolean {
  for (let at = buffer.indexOf(0x0a, from); at >= 0; at = buffer.indexOf(0x0a, at + 1)) {
    if (at === 0 || buffer[at - 1] !== 0x0d) return true;
  }
  return false;
}
