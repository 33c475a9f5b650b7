// Which dialect a connection speaks, from its first bytes.
import { PREFACE } from "./frame.ts";

export type Dialect = "rpc" | "json-lines" | "http";
/** A dialect, "unknown" (close the connection), or undefined: not enough bytes yet. */
export type Detection = Dialect | "unknown" | undefined;

const HTTP_METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "CONNECT",
]);
const LONGEST_METHOD = 7;
/** Leading whitespace allowed before the first JSON object. */
const MAX_LEADING_WHITESPACE = 1024;

export function detectDialect(bytes: Buffer): Detection {
  if (bytes.length === 0) return undefined;
  const first = bytes[0]!;
  if (first === PREFACE[0]) {
    const n = Math.min(bytes.length, PREFACE.length);
    if (bytes.compare(PREFACE, 0, n, 0, n) !== 0) return "unknown";
    return n === PREFACE.length ? "rpc" : undefined;
  }
  if (first === 0x7b || isWhitespace(first)) return detectJson(bytes);
  if (first >= 0x41 && first <= 0x5a) return detectHttp(bytes);
  return "unknown";
}

function detectJson(bytes: Buffer): Detection {
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (byte === 0x7b) return "json-lines";
    if (!isWhitespace(byte) || i >= MAX_LEADING_WHITESPACE) return "unknown";
  }
  return undefined;
}

function detectHttp(bytes: Buffer): Detection {
  const space = bytes.indexOf(0x20);
  if (space === -1) {
    if (bytes.length > LONGEST_METHOD) return "unknown";
    for (const byte of bytes) if (byte < 0x41 || byte > 0x5a) return "unknown";
    return undefined;
  }
  return HTTP_METHODS.has(bytes.toString("latin1", 0, space)) ? "http" : "unknown";
}

export function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}
