// An HTTP Upgrade (WebSocket and the like) leaves HTTP behind: the proxy
// opens a dedicated backend connection, replays the request head with the
// Upgrade headers kept, and from then on relays bytes both ways. The
// backend's own answer (101 or a refusal) reaches the client unchanged.
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { relay } from "../core/index.ts";
import { type ForwardedFor, requestHeadersForBackend } from "./forwarded-headers.ts";

/** Writes `req`'s head (and the bytes already read past it) to `backend`, then relays. */
export function tunnelUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  backend: Socket,
  host: string,
  forwarded: ForwardedFor,
): Promise<unknown> {
  const headers = requestHeadersForBackend(
    req.rawHeaders,
    req.headers.connection,
    host,
    forwarded,
    req.headers.upgrade ?? "websocket",
  );
  let text = `${req.method} ${req.url} HTTP/1.1\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  backend.write(`${text}\r\n`);
  if (head.length > 0) backend.write(head);
  return relay(client, backend);
}
