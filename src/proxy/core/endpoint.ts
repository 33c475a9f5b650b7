// Where a backend listens: a TCP host and port, or a Unix socket path.
// Written as `host:port`, `[v6]:port` or `unix:/path`.
import { isIP } from "node:net";
import type { Result } from "./resolver.ts";
import { ResolverError } from "./resolver-error.ts";

export type Endpoint =
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "unix"; readonly path: string };

export class EndpointSyntaxError extends Error {
  readonly code = "ERR_NEXUS_ENDPOINT_SYNTAX";
  constructor(text: string, why: string) {
    super(`invalid endpoint ${JSON.stringify(text)}: ${why}`);
    this.name = "EndpointSyntaxError";
  }
}

export function parseEndpoint(text: string): Endpoint {
  if (text.startsWith("unix:")) {
    const path = text.slice("unix:".length);
    if (!path.startsWith("/")) throw new EndpointSyntaxError(text, "a unix path must be absolute");
    if (path.includes("\0")) throw new EndpointSyntaxError(text, "a unix path cannot hold NUL");
    return { kind: "unix", path };
  }
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") {
      throw new EndpointSyntaxError(text, "expected [address]:port");
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (isIP(host) !== 6) throw new EndpointSyntaxError(text, "brackets hold an IPv6 address");
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0) throw new EndpointSyntaxError(text, "expected host:port");
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) throw new EndpointSyntaxError(text, "write IPv6 as [address]:port");
  }
  if (!/^\d{1,5}$/.test(portText)) throw new EndpointSyntaxError(text, "the port is not a number");
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new EndpointSyntaxError(text, "the port is out of range");
  return { kind: "tcp", host, port };
}

export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === "unix") return `unix:${endpoint.path}`;
  return isIP(endpoint.host) === 6
    ? `[${endpoint.host}]:${endpoint.port}`
    : `${endpoint.host}:${endpoint.port}`;
}

/** The endpoint of a resolver's answer; a malformed one is the resolver's fault (INTERNAL). */
export function resultEndpoint(result: Result): Endpoint {
  try {
    return parseEndpoint(result.endpoint);
  } catch (error) {
    if (!(error instanceof EndpointSyntaxError)) throw error;
    throw new ResolverError("INTERNAL", error.message, { reason: "resolver_failed", cause: error });
  }
}
