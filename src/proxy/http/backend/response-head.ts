// Reads the head of a backend's HTTP/1.1 response (RFC 9112 §4–§6): status
// line, header fields, and what they say about the body and the connection.
// It is strict on purpose: a proxy that reads a response differently from the
// client after it is open to response splitting, so anything ambiguous (bare
// LF, obs-fold, space before the colon, Content-Length disagreeing with itself
// or sent with Transfer-Encoding) is a protocol error, answered with 502.
import { hasBareLineFeed, readFieldLines } from "../field-lines.ts";
import { BackendProtocolError } from "./backend-errors.ts";

const CRLF_CRLF = Buffer.from("\r\n\r\n");
/** The reason, when there is one, is after a space: `HTTP/1.1 2000` is not status 200. */
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const fail = (message: string) => new BackendProtocolError(message);

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
    if (buffer.length > maxBytes) throw fail("response head too large");
    // A head with LF-only line ends would never be complete: refuse it now.
    if (hasBareLineFeed(buffer, searchFrom)) throw fail("bare LF in head");
    return undefined;
  }
  if (end + 4 > maxBytes) throw fail("response head too large");
  const lines = buffer.toString("latin1", 0, end).split("\r\n");
  const statusLine = STATUS_LINE.exec(lines[0] ?? "");
  if (!statusLine) throw fail("malformed status line");
  const minor = statusLine[1];
  const status = Number(statusLine[2]);
  if (status < 100) throw fail("malformed status code");

  let keepAliveTimeoutMs: number | undefined;
  const fields = readFieldLines(lines, 1, fail, (name, value) => {
    if (name === "keep-alive") keepAliveTimeoutMs = keepAliveHint(value) ?? keepAliveTimeoutMs;
  });
  const { contentLength, transferEncoding, connection } = fields;

  let chunked = false;
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: the framing of an HTTP/1.0 message with Transfer-Encoding is faulty.
    if (minor === "0") throw fail("Transfer-Encoding in an HTTP/1.0 response");
    // Only chunked is spoken here; with a Content-Length beside it the two
    // framings could disagree (RFC 9112 §6.3: "ought to be handled as an error").
    if (transferEncoding.toLowerCase() !== "chunked") {
      throw fail("unsupported transfer coding");
    }
    if (contentLength !== undefined) {
      throw fail("both Content-Length and Transfer-Encoding");
    }
    chunked = true;
  }
  // `close` ends the connection in either version (RFC 9112 §9.3).
  const keepAlive =
    !connection.includes("close") && (minor === "1" || connection.includes("keep-alive"));
  return {
    status,
    reason: statusLine[3] ?? "",
    headers: fields.headers,
    contentLength,
    chunked,
    keepAlive,
    keepAliveTimeoutMs,
    size: end + 4,
  };
}

/** `timeout=N` of a Keep-Alive header, in ms. */
function keepAliveHint(value: string): number | undefined {
  // A number too long for the pattern is no hint, rather than its first digits.
  const match = /(?:^|[,;\s])timeout\s*=\s*(\d{1,9})(?!\d)/i.exec(value);
  return match ? Number(match[1]) * 1000 : undefined;
}
