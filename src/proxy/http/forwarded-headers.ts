// Header rewriting at the proxy (RFC 9110 §7.6): hop-by-hop headers belong to
// one connection and are dropped in both directions, together with any header
// the Connection header names; the request gains X-Forwarded-For/Proto/Host
// and Via so the backend knows who asked and through what.
import { listTokens } from "./field-lines.ts";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // The proxy answers `Expect: 100-continue` to the client itself.
  "expect",
]);

export interface ForwardedFor {
  /** The client's address as the proxy saw it. */
  readonly clientAddress: string | undefined;
  /** `http` or `https`: what the client spoke to the proxy. */
  readonly proto: string;
  /** Value appended to Via, e.g. `1.1 nexus`. */
  readonly via: string;
}

/**
 * The headers to send to the backend, as a flat name/value list, from the
 * client's raw headers, without any framing header (Content-Length,
 * Transfer-Encoding): the caller adds the one it frames the body with.
 * `upgrade` keeps the Upgrade handshake headers.
 */
export function requestHeadersForBackend(
  rawHeaders: readonly string[],
  /** The tokens of the request's Connection header, lower-cased. */
  listed: readonly string[],
  host: string,
  forwarded: ForwardedFor,
  upgrade?: string,
): string[] {
  const out: string[] = [];
  let forwardedFor: string | undefined;
  let via: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const value = rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    // The body's framing is the proxy's to write, from what it read of the
    // head; a client's Content-Length never passes through as sent (not even
    // removed by naming it in Connection, which would leave the body unframed).
    if (lower === "content-length") continue;
    if (HOP_BY_HOP.has(lower) || (listed.includes(lower) && lower !== "host")) continue;
    if (lower === "x-forwarded-for") {
      forwardedFor = join(forwardedFor, value);
    } else if (lower === "via") {
      via = join(via, value);
    } else if (lower !== "x-forwarded-proto" && lower !== "x-forwarded-host") {
      out.push(name, value);
    }
  }
  const client = forwarded.clientAddress ?? "unknown";
  out.push(
    "x-forwarded-for",
    join(forwardedFor, client),
    "x-forwarded-proto",
    forwarded.proto,
    "x-forwarded-host",
    host,
    "via",
    join(via, forwarded.via),
  );
  if (upgrade !== undefined) out.push("connection", "upgrade", "upgrade", upgrade);
  return out;
}

/**
 * The backend's response headers (flat name, value list, as received) minus
 * hop-by-hop ones and Content-Length (the caller writes the one length it
 * read, once), with Via appended.
 */
export function responseHeadersForClient(rawHeaders: readonly string[], via: string): string[] {
  let listed: string[] = [];
  let previousVia: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const lower = rawHeaders[i]!.toLowerCase();
    if (lower === "connection") listed = listed.concat(listTokens(rawHeaders[i + 1]!));
    else if (lower === "via") previousVia = join(previousVia, rawHeaders[i + 1]!);
  }
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || listed.includes(lower) || lower === "via") continue;
    if (lower === "content-length") continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  out.push("via", join(previousVia, via));
  return out;
}

function join(list: string | undefined, value: string): string {
  return list === undefined ? value : `${list}, ${value}`;
}
