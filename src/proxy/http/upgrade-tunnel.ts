// An HTTP Upgrade (WebSocket and the like) leaves HTTP behind, but only once
// the backend agrees. The proxy offers the upgrade on a dedicated backend
// connection and reads the answer with Node's HTTP parser: a 101 goes to the
// client unchanged and from then on bytes are relayed both ways; any other
// answer is forwarded as an ordinary response and the client connection is
// closed. Until the 101 nothing the client sends goes to the backend, so
// bytes sent after a declined upgrade never reach it past the proxy's checks
// (routing, header rewriting, body limits).
import { type IncomingMessage, request } from "node:http";
import type { Socket } from "node:net";
import { pipeline } from "node:stream";
import { relay } from "../core/index.ts";
import { BackendTimeoutError } from "./backend/backend-errors.ts";
import type { RequestHead } from "./client/request-head.ts";
import {
  type ForwardedFor,
  requestHeadersForBackend,
  responseHeadersForClient,
} from "./forwarded-headers.ts";
import { closeLingering } from "./lingering-close.ts";
import type { UpgradingClient } from "./upgrading-client.ts";

export interface UpgradeOffer {
  /** A fresh connection to the route's backend, used for this upgrade only. */
  readonly backend: Socket;
  /** The request target in origin-form. */
  readonly target: string;
  readonly host: string;
  readonly forwarded: ForwardedFor;
  /** Longest silence from the backend before its answer is complete. */
  readonly timeoutMs: number;
  /** Called when the backend's answer has arrived (a 101 or any other response). */
  readonly answered?: () => void;
}

/**
 * Offers `req`'s upgrade to the backend; the client's early bytes go on only
 * after a 101. Resolves when the exchange is over. Rejects, having written
 * nothing to the client, when the backend fails or stays silent before its
 * answer starts, or the client leaves first.
 */
export function tunnelUpgrade(
  req: RequestHead,
  upgrading: UpgradingClient,
  offer: UpgradeOffer,
): Promise<void> {
  const { backend } = offer;
  const client = upgrading.socket;
  const headers = requestHeadersForBackend(
    req.headers,
    req.connection,
    offer.host,
    offer.forwarded,
    req.upgrade ?? "websocket",
  );
  return new Promise((resolve, reject) => {
    const exchange = request({
      method: req.method,
      path: offer.target,
      headers,
      createConnection: () => backend,
      signal: upgrading.signal,
    });
    exchange.setTimeout(offer.timeoutMs, () => exchange.destroy(new BackendTimeoutError("head")));
    exchange.once("error", (error) => {
      backend.destroy();
      reject(error);
    });
    exchange.once("upgrade", (res: IncomingMessage, upgraded: Socket, backendHead: Buffer) => {
      offer.answered?.();
      const early = upgrading.handOver();
      upgraded.setTimeout(0);
      client.write(formatHead(statusLine(res), res.rawHeaders));
      if (backendHead.length > 0) client.write(backendHead);
      if (early.length > 0) upgraded.write(early);
      relay(client, upgraded).then(() => resolve());
    });
    exchange.once("response", (res: IncomingMessage) => {
      offer.answered?.();
      upgrading.handOver();
      client.write(formatHead(statusLine(res), declinedHeaders(res, offer.forwarded.via)));
      // Whatever else the client sends is read and dropped.
      client.resume();
      pipeline(res, client, () => {
        backend.destroy();
        // The answer is out (pipeline ended the client): a client that keeps its end open is dropped.
        if (!client.destroyed) closeLingering(client);
        resolve();
      });
    });
    exchange.end();
  });
}

function statusLine(res: IncomingMessage): string {
  return `HTTP/1.1 ${res.statusCode} ${res.statusMessage}`;
}

/** The backend's answer as a plain response on a connection that closes after it. */
function declinedHeaders(res: IncomingMessage, via: string): string[] {
  const out = responseHeadersForClient(res.rawHeaders, via);
  // Node's parser has read the body's length; the client should know it too.
  const length = res.headers["content-length"];
  if (length !== undefined) out.push("content-length", length);
  // Without Transfer-Encoding or Content-Length, the body ends with the connection.
  out.push("connection", "close");
  return out;
}

function formatHead(startLine: string, headers: readonly string[]): string {
  let text = `${startLine}\r\n`;
  for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}\r\n`;
}
