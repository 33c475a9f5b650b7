// The REST gateway: an HTTP server in front of the services' sockets. Each
// request is matched to a service by path prefix and streamed both ways to
// the least busy ready instance through the service's HTTP dialect. The
// caller's bearer token goes along and the service checks it (it knows which
// of its routes are public, even before it first started); on a gateway
// route marked public, the gateway presents the token itself. A service that
// cannot answer right now gives 503 with Retry-After, never 404. `/healthz`
// and `/metrics` are the gateway's own.
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pipeline } from "node:stream/promises";
import type { GatewayRoute } from "../orchestrator/config.ts";
import { type RouteMatch, RouteTable } from "./route-table.ts";
import { retryAfterSeconds, type ServiceView } from "./service-view.ts";
import { Upstreams } from "./upstreams.ts";

export interface GatewayOptions {
  readonly host: string;
  readonly port: number;
  readonly routes: readonly GatewayRoute[];
  readonly timeoutMs: number;
  /** The mesh token, presented to services on public gateway routes. */
  readonly token: string;
  readonly services: ReadonlyMap<string, ServiceView>;
  readonly metrics?: () => Promise<{ contentType: string; text: string }>;
}

/** Headers that describe one hop, not the message (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  // Node's server has already answered `Expect: 100-continue`; undici refuses to send it.
  "expect",
]);

/** Errors that mean the instance could not take the request: safe to retry. */
const NOT_DELIVERED = new Set(["ECONNREFUSED", "ENOENT", "EPIPE", "UND_ERR_CONNECT_TIMEOUT"]);
/** A kept-alive connection closed under the request (an instance draining for a reload). */
const CONNECTION_LOST = new Set(["UND_ERR_SOCKET", "ECONNRESET"]);
/** Methods a second attempt cannot make do something twice (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

class GatewayError extends Error {
  readonly status: number;
  readonly code: string;
  readonly retryAfter: number | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: number, cause?: Error) {
    super(message, { cause });
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class Gateway {
  readonly #options: GatewayOptions;
  readonly #table: RouteTable;
  readonly #upstreams: Upstreams;
  readonly #server: Server;

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#table = new RouteTable(options.routes);
    this.#upstreams = new Upstreams(options.timeoutMs);
    this.#server = createServer((request, response) => {
      this.#handle(request, response).catch((error: unknown) => this.#fail(response, error));
    });
  }

  /** The URL it listens on, once listening. */
  get url(): string {
    const { address, port, family } = this.#server.address() as AddressInfo;
    return `http://${family === "IPv6" ? `[${address}]` : address}:${port}`;
  }

  async listen(): Promise<void> {
    const { host, port } = this.#options;
    this.#server.listen(port, host);
    try {
      await once(this.#server, "listening");
    } catch (error) {
      throw new Error(
        `the gateway cannot listen on ${host}:${port} (gateway in the config): ${(error as Error).message}`,
      );
    }
  }

  /**
   * Stops accepting and lets requests in flight finish; connections still
   * open after `timeoutMs` (no request may take longer) are closed.
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const deadline = setTimeout(() => this.#server.closeAllConnections(), this.#options.timeoutMs);
    await closed;
    clearTimeout(deadline);
    await this.#upstreams.close();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = request.url ?? "/";
    if (target === "/healthz") return this.#health(response);
    if (target === "/metrics" && this.#options.metrics) {
      const { contentType, text } = await this.#options.metrics();
      response.writeHead(200, { "content-type": contentType }).end(text);
      return;
    }
    const match = this.#table.match(target);
    if (match === undefined)
      throw new GatewayError(404, "NOT_FOUND", `no gateway route for ${target}`);
    const service = this.#options.services.get(match.route.service)!;
    await this.#forward(request, response, match, service);
  }

  async #forward(
    request: IncomingMessage,
    response: ServerResponse,
    match: RouteMatch,
    service: ServiceView,
  ): Promise<void> {
    const method = request.method ?? "GET";
    const hasBody =
      request.headers["content-length"] !== undefined ||
      request.headers["transfer-encoding"] !== undefined;
    const abort = new AbortController();
    response.on("close", () => {
      if (!response.writableFinished) abort.abort();
    });
    // A request without a body can be tried on a second instance if the first could not take it.
    for (let attempt = 0; ; attempt += 1) {
      const socket = this.#choose(service);
      const done = this.#upstreams.track(socket);
      try {
        const upstream = await this.#upstreams.pool(socket).request({
          method,
          path: match.servicePath,
          headers: this.#upstreamHeaders(request, match.route.public),
          body: hasBody ? request : null,
          signal: abort.signal,
        });
        response.writeHead(upstream.statusCode, endToEnd(upstream.headers));
        await pipeline(upstream.body, response);
        return;
      } catch (error) {
        if (response.headersSent || abort.signal.aborted) {
          response.destroy();
          return;
        }
        const code = (error as NodeJS.ErrnoException).code ?? "";
        const retry =
          NOT_DELIVERED.has(code) || (CONNECTION_LOST.has(code) && IDEMPOTENT.has(method));
        if (retry && !hasBody && attempt === 0) continue;
        throw upstreamError(service, code, error as Error);
      } finally {
        done();
      }
    }
  }

  #choose(service: ServiceView): string {
    const socket = this.#upstreams.pick(service.readySockets) ?? service.wakeSocket;
    if (socket === undefined) {
      throw new GatewayError(
        503,
        "UNAVAILABLE",
        `service ${service.name} is ${service.status}`,
        retryAfterSeconds(service.status),
      );
    }
    return socket;
  }

  #upstreamHeaders(request: IncomingMessage, open: boolean): Record<string, string | string[]> {
    const headers = endToEnd(request.headers);
    if (open) headers.authorization = `Bearer ${this.#options.token}`;
    const forwardedFor = request.headers["x-forwarded-for"];
    const client = request.socket.remoteAddress ?? "";
    headers["x-forwarded-for"] = forwardedFor ? `${forwardedFor}, ${client}` : client;
    headers["x-forwarded-host"] = request.headers.host ?? "";
    headers["x-forwarded-proto"] = "http";
    return headers;
  }

  #health(response: ServerResponse): void {
    const services = Object.fromEntries(
      [...this.#options.services.values()].map((s) => [s.name, s.status]),
    );
    response
      .writeHead(200, { "content-type": "application/json" })
      .end(JSON.stringify({ status: "ok", services }));
  }

  #fail(response: ServerResponse, error: unknown): void {
    const failure =
      error instanceof GatewayError
        ? error
        : new GatewayError(500, "INTERNAL", "the gateway failed to handle the request");
    if (response.headersSent) {
      response.destroy();
      return;
    }
    if (failure.retryAfter !== undefined)
      response.setHeader("retry-after", String(failure.retryAfter));
    response
      .writeHead(failure.status, { "content-type": "application/json" })
      .end(JSON.stringify({ error: { code: failure.code, message: failure.message } }));
  }
}

function upstreamError(service: ServiceView, code: string, error: Error): GatewayError {
  if (TIMEOUTS.has(code)) {
    return new GatewayError(504, "TIMEOUT", `service ${service.name} did not answer in time`);
  }
  if (NOT_DELIVERED.has(code) || CONNECTION_LOST.has(code)) {
    return new GatewayError(503, "UNAVAILABLE", `service ${service.name} is unavailable`, 1);
  }
  return new GatewayError(
    502,
    "BAD_GATEWAY",
    `service ${service.name} failed to answer`,
    undefined,
    error,
  );
}

/** The headers that travel on to the next hop. */
function endToEnd(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
}
