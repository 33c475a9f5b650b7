// Reads the head of a client's HTTP/1.x request (RFC 9112 §2–§6): request
// line, header fields, and what they say about the body, the connection and
// an upgrade. Strict on purpose, like the backend side: anything two HTTP
// implementations might read differently (bare LF, obs-fold, space before
// the colon, Content-Length with Transfer-Encoding or disagreeing with
// itself) is refused rather than guessed at, so no request can be smuggled
// past the proxy's routing and checks.
import { type FieldSection, hasBareLineFeed, listTokens, readFieldLines } from "../field-lines.ts";
import { ClientRequestError } from "./request-error.ts";

const CRLF_CRLF = Buffer.from("\r\n\r\n");
/** method SP request-target SP HTTP-version; a target is visible ASCII. */
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
const badRequest = (message: string) => new ClientRequestError(400, message);

export interface RequestHead {
  readonly method: string;
  /** The request target as sent. */
  readonly target: string;
  /** HTTP/1.0 or HTTP/1.1. */
  readonly minorVersion: 0 | 1;
  /** Field names and values as sent, flat: name, value, name, value… */
  readonly headers: string[];
  /**
   * The Host value when exactly one Host field was sent, else undefined:
   * with more than one (RFC 9112 §3.2 says 400) the proxy would route on
   * one while the backend might read another.
   */
  readonly host: string | undefined;
  /** Content-Length, when declared. */
  readonly contentLength: number | undefined;
  /** The body is sent with chunked framing. */
  readonly chunked: boolean;
  /** The tokens of the Connection header, lower-cased. */
  readonly connection: readonly string[];
  /** The client will send another request on this connection after this one. */
  readonly keepAlive: boolean;
  /** The Expect value, lower-cased, when sent. */
  readonly expect: string | undefined;
  /** The protocol asked for, when the request is an upgrade (Upgrade and `Connection: upgrade`). */
  readonly upgrade: string | undefined;
  /** Bytes the head took, empty lines before it and the final CRLFCRLF included. */
  readonly size: number;
}

/**
 * The head at the start of `buffer`, or undefined when it is not complete
 * yet. Throws ClientRequestError: 400 for a malformed head, 431 for one
 * larger than `maxBytes`, 501 for a transfer coding other than chunked, 505
 * for an HTTP version other than 1.0 and 1.1.
 */
export function parseRequestHead(
  buffer: Buffer,
  maxBytes: number,
  /** Where the end of the head may start: bytes before it were searched already. */
  searchFrom = 0,
): RequestHead | undefined {
  // Empty lines before a request line are skipped (RFC 9112 §2.2): some
  // clients send a CRLF after a body. They count towards the limit, or a
  // client could send them without end and have them all kept.
  let start = 0;
  while (buffer[start] === 0x0d && buffer[start + 1] === 0x0a) start += 2;
  const end = buffer.indexOf(CRLF_CRLF, Math.max(start, searchFrom));
  if (end < 0) {
    if (buffer.length > maxBytes) throw new ClientRequestError(431, "request head too large");
    if (hasBareLineFeed(buffer, Math.max(start, searchFrom))) throw badRequest("bare LF in head");
    return undefined;
  }
  if (end + 4 > maxBytes) throw new ClientRequestError(431, "request head too large");
  const lines = buffer.toString("latin1", start, end).split("\r\n");
  const requestLine = REQUEST_LINE.exec(lines[0] ?? "");
  if (!requestLine) throw badRequest("malformed request line");
  const [, method, target, major, minor] = requestLine as unknown as string[];
  if (major !== "1" || (minor !== "0" && minor !== "1")) {
    throw new ClientRequestError(505, "HTTP version not supported");
  }

  let host: string | undefined;
  let hosts = 0;
  let expect: string | undefined;
  let upgrade: string | undefined;
  const fields = readFieldLines(lines, 1, badRequest, (name, value) => {
    if (name === "host") {
      hosts += 1;
      host = value;
    } else if (name === "expect") {
      // Repeated fields are one list (RFC 9110 §5.3): none of it may be dropped.
      expect = expect === undefined ? value.toLowerCase() : `${expect}, ${value.toLowerCase()}`;
    } else if (name === "upgrade") {
      upgrade = upgrade === undefined ? value : `${upgrade}, ${value}`;
    }
  });
  const connection = fields.connection;
  const http10 = minor === "0";
  return {
    method: method!,
    target: target!,
    minorVersion: http10 ? 0 : 1,
    headers: fields.headers,
    host: hosts === 1 ? host : undefined,
    contentLength: fields.contentLength,
    chunked: isChunked(fields, http10),
    connection,
    keepAlive: !connection.includes("close") && (!http10 || connection.includes("keep-alive")),
    expect,
    // RFC 9110 §7.8: Upgrade means nothing unless Connection names it.
    upgrade:
      connection.includes("upgrade") && upgrade !== undefined && !http10 ? upgrade : undefined,
    size: end + 4,
  };
}

/** Whether the body is chunked; refuses framings the proxy could read differently from a backend. */
function isChunked(fields: FieldSection, http10: boolean): boolean {
  const coding = fields.transferEncoding;
  if (coding === undefined) return false;
  // RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 is faulty framing, and
  // with a Content-Length beside it the two could disagree (§6.3).
  if (http10) throw badRequest("Transfer-Encoding in an HTTP/1.0 request");
  if (fields.contentLength !== undefined) {
    throw badRequest("both Content-Length and Transfer-Encoding");
  }
  const codings = listTokens(coding);
  // §6.3: a request whose final coding is not chunked has no knowable length.
  if (codings.at(-1) !== "chunked") throw badRequest("the final transfer coding is not chunked");
  // Passing the body on chunked would drop the other codings (gzip, chunked).
  if (codings.length > 1) throw new ClientRequestError(501, "transfer coding not supported");
  return true;
}
