// The EHLO extensions (RFC 5321 §4.1.1.1) a client is offered. Before a
// backend is chosen the proxy offers only what it implements itself; once
// the session is relayed to a backend, what the backend offers and the relay
// carries unchanged. STARTTLS is never passed on: TLS with the client is the
// proxy's, and it is over once bytes are relayed.
import type { SmtpReply } from "./reply.ts";

/** Extensions that work through a byte relay when the backend offers them. */
const RELAYED = new Set([
  "SIZE",
  "8BITMIME",
  "PIPELINING",
  "ENHANCEDSTATUSCODES",
  "AUTH",
  "CHUNKING",
  "BINARYMIME",
  "SMTPUTF8",
  "DSN",
]);

export interface LocalExtensions {
  /** The size limit to announce; 0 announces SIZE without a limit. */
  readonly maxMessageSize: number;
  readonly startTls: boolean;
}

/** The extensions the proxy honours itself, before any backend is connected. */
export function localExtensions(options: LocalExtensions): string[] {
  const extensions = [
    options.maxMessageSize > 0 ? `SIZE ${options.maxMessageSize}` : "SIZE",
    "8BITMIME",
    "PIPELINING",
    "ENHANCEDSTATUSCODES",
  ];
  if (options.startTls) extensions.push("STARTTLS");
  return extensions;
}

/** The backend's EHLO extensions that survive relaying, as it wrote them. */
export function relayedExtensions(backendEhlo: SmtpReply): string[] {
  return backendEhlo.lines.slice(1).filter((line) => {
    const keyword = line.split(" ", 1)[0]!.toUpperCase();
    return RELAYED.has(keyword);
  });
}
