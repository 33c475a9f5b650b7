// Reads the head of a backend's HTTP/1.1 response (RFC 9112 §4–§6): status
// line, header fields, and what they say about the body and the connection.
// It is strict on purpose: a proxy that reads a response differently from the
// client after it is open to response splitting, so anything ambiguous (bare
// LF, obs-fold, space before the colon, Content-Length disagreeing with itself
// or sent with Transfer-Encoding) is a protocol error, answered with 502.
import { BackendProtocolError } from "./backend-errors.ts";

const CRLF_CRLF = Buffer.from("\r\n\r\n");
/** The reason, when there is one, is after a space: `HTTP/1.1 2000` is not status 200. */
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
/** A field name is a token (RFC 9110 §5.6.2). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values may hold visible characters, spaces, tabs and obs-text, nothing else. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control bytes are what it looks for
const BAD_VALUE = /[\0-\x08\x0a-\x1f\x7f]/;
const DIGITS = /^\d{1,15}$/;

export interface ResponseHead {
  readonly status: number;
  readonly reason: string;
  /** Field names and values as sent, flat: name, value, name, value… */
  readonly headers: string[];
  /** Content-Length, when the response declares one. */
  readonly contentLength: number | undefined;
  /** Transfer-Encoding: chunked. */
  readonly chunked: boolean;
  /** The backend is willing to keep the connection open after this response. */
  readonly keepAlive: boolean;
  /** The backend's `Keep-Alive: timeout=N` hint, in ms. */
  readonly keepAliveTimeoutMs: number | undefined;
  /** Bytes the head took, CRLFCRLF included. */
  readonly size: number;
}

/**
 * The head at the start of `buffer`, or undefined when it is not complete
 * yet. Throws BackendProtocolError for a malformed head, or one that is
 * still incomplete past `maxBytes`.
 */
export function parseResponseHead(
  buffer: Buffer,
  maxBytes: number,
  /** Where the end of the head may start: bytes before it were searched already. */
  searchFrom = 0,
): ResponseHead | undefined {
  const end = buffer.indexOf(CRLF_CRLF, searchFrom);
  if (end < 0) {
    if (buffer.length > maxBytes) throw new BackendProtocolError("response head too large");
    // A head with LF-only line ends would never be complete: refuse it now.
    if (hasBareLineFeed(buffer, searchFrom)) throw new BackendProtocolError("bare LF in head");
    return undefined;
  }
  if (end + 4 > maxBytes) throw new BackendProtocolError("response head too large");
  const lines = buffer.toString("latin1", 0, end).split("\r\n");
  const statusLine = STATUS_LINE.exec(lines[0] ?? "");
  if (!statusLine) throw new BackendProtocolError("malformed status line");
  const minor = statusLine[1];
  const status = Number(statusLine[2]);
  if (status < 100) throw new BackendProtocolError("malformed status code");

  const headers: string[] = [];
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let connection = "";
  let keepAliveTimeoutMs: number | undefined;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw new BackendProtocolError("malformed header field");
    const value = trimWhitespace(line.slice(colon + 1));
    if (BAD_VALUE.test(value)) throw new BackendProtocolError("malformed header value");
    headers.push(name, value);
    switch (name.toLowerCase()) {
      case "content-length":
        contentLength = mergeContentLength(contentLength, value);
        break;
      case "transfer-encoding":
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding}, ${value}`;
        break;
      case "connection":
        connection = connection === "" ? value : `${connection}, ${value}`;
        break;
      case "keep-alive":
        keepAliveTimeoutMs = keepAliveHint(value) ?? keepAliveTimeoutMs;
        break;
    }
  }

  let chunked = false;
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: the framing of an HTTP/1.0 message with Transfer-Encoding is faulty.
    if (minor === "0") throw new BackendProtocolError("Transfer-Encoding in an HTTP/1.0 response");
    // Only chunked is spoken here; with a Content-Length beside it the two
    // framings could disagree (RFC 9112 §6.3: "ought to be handled as an error").
    if (transferEncoding.toLowerCase() !== "chunked") {
      throw new BackendProtocolError("unsupported transfer coding");
    }
    if (contentLength !== undefined) {
      throw new BackendProtocolError("both Content-Length and Transfer-Encoding");
    }
    chunked = true;
  }
  // `close` ends the connection in either version (RFC 9112 §9.3).
  const tokens = connection.toLowerCase().split(",").map(trimWhitespace);
  const keepAlive = !tokens.includes("close") && (minor === "1" || tokens.includes("keep-alive"));
  return {
    status,
    reason: statusLine[3] ?? "",
    headers,
    contentLength,
    chunked,
    keepAlive,
    keepAliveTimeoutMs,
    size: end + 4,
  };
}

/** Repeated or comma-listed Content-Length values must all agree (RFC 9110 §8.6). */
function mergeContentLength(previous: number | undefined, value: string): number {
  let length = previous;
  for (const part of value.split(",")) {
    const text = trimWhitespace(part);
    if (!DIGITS.test(text)) throw new BackendProtocolError("malformed Content-Length");
    const parsed = Number(text);
    if (length !== undefined && length !== parsed) {
      throw new BackendProtocolError("conflicting Content-Length values");
    }
    length = parsed;
  }
  return length as number;
}

/** `timeout=N` of a Keep-Alive header, in ms. */
function keepAliveHint(value: string): number | undefined {
  // A number too long for the pattern is no hint, rather than its first digits.
  const match = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})(?!\d)/i.exec(value);
  return match ? Number(match[1]) * 1000 : undefined;
}

/**
 * `text` without leading and trailing optional whitespace (RFC 9110 §5.6.3):
 * SP and HTAB only, where `trim()` would also eat control bytes and NBSP and
 * hide them from the checks. A loop, not a regular expression, whose
 * backtracking on long runs of spaces a backend could make quadratic.
 */
function trimWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isWhitespace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** An LF not preceded by CR at or after `from`. */
function hasBareLineFeed(buffer: Buffer, from: number): boolean {
  for (let at = buffer.indexOf(0x0a, from); at >= 0; at = buffer.indexOf(0x0a, at + 1)) {
    if (at === 0 || buffer[at - 1] !== 0x0d) return true;
  }
  return false;
}
