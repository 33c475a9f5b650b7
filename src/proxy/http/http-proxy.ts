// The HTTP/1.1 reverse proxy: reads the Host header, asks the BackendRouter
// for the route, and streams the request to a pooled keep-alive connection to
// that backend and the response back. Upgrades (WebSocket) get a dedicated
// tunnel. Every failure is answered with its own status; nothing one client
// sends can stop the proxy from serving the others.
import { once } from "node:events";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex, Readable } from "node:stream";
import { Registry } from "prom-client";
import { type BackendRouter, ResolverError, type Route, toResolverError } from "../core/index.ts";
import type { BackendRequest, Exchange } from "./backend/backend-request.ts";
import { BackendPools, type PoolOptions } from "./backend-pools.ts";
import { limitBody } from "./body-limit.ts";
import {
  ClientGoneError,
  type ErrorResponse,
  responseForBackendError,
  responseForResolverError,
} from "./error-status.ts";
import { type ForwardedFor, requestHeadersForBackend } from "./forwarded-headers.ts";
import { HttpMetrics } from "./http-metrics.ts";
import { writeRawResponse } from "./raw-response.ts";
import { checkRequest } from "./request-checks.ts";
import { type ForwardOutcome, ResponseForwarder } from "./response-forwarder.ts";
import { closedBeforeResponse, mayResend, wasReused } from "./stale-connection.ts";
import { tunnelUpgrade } from "./upgrade-tunnel.ts";
import { UpgradingClient } from "./upgrading-client.ts";

export interface HttpLimits {
  /** Largest request head (request line and headers); larger is 431. Default 16 KiB. */
  readonly maxHeaderBytes?: number;
  /** Time for a client to send the whole request head (slowloris); then 408. Default 10 s. */
  readonly headersTimeoutMs?: number;
  /** Time for a client to send the whole request, body included; then 408. Default 300 s. */
  readonly requestTimeoutMs?: number;
  /** A client connection with no traffic either way is closed. Default 60 s. */
  readonly idleTimeoutMs?: number;
  /** How long a keep-alive client connection waits for its next request. Default 5 s. */
  readonly keepAliveTimeoutMs?: number;
  /** Largest request body; larger is 413. Default: no limit. */
  readonly maxBodyBytes?: number;
  /** Client connections held at once; past it new ones get 503. Default: no limit. */
  readonly maxConnections?: number;
  /** Time for the backend to send its response head; then 504. Default 30 s. */
  readonly backendResponseTimeoutMs?: number;
  /** Longest silence inside a backend response body; then the exchange is cut. Default 60 s. */
  readonly backendIdleTimeoutMs?: number;
}

export interface HttpProxyOptions {
  readonly router: BackendRouter;
  readonly limits?: HttpLimits;
  readonly pool?: PoolOptions;
  /** Adds x-nexus-proxy-latency-ms and x-nexus-cache to responses. */
  readonly telemetryHeaders?: boolean;
  /** Shared by every HTTP listener of one process; one is made when absent. */
  readonly metrics?: HttpMetrics;
  /** Name in the Via header (default `nexus`). */
  readonly via?: string;
}

export interface HttpListenOptions {
  /** Lets several processes listen on one port (SO_REUSEPORT). */
  readonly reusePort?: boolean;
}

export class HttpProxy {
  readonly metrics: HttpMetrics;
  readonly #server: Server;
  readonly #pools: BackendPools;
  readonly #limits: HttpLimits;
  readonly #telemetry: boolean;
  readonly #via: string;
  readonly #tunnels = new Set<Duplex>();
  readonly #router: BackendRouter;
  #connections = 0;
  #closing = false;

  constructor(options: HttpProxyOptions) {
    this.#router = options.router;
    this.#limits = options.limits ?? {};
    this.#telemetry = options.telemetryHeaders ?? false;
    this.#via = `1.1 ${options.via ?? "nexus"}`;
    this.metrics = options.metrics ?? new HttpMetrics(new Registry());
    this.#pools = new BackendPools(options.router, options.pool);
    const limits = this.#limits;
    this.#server = createServer(
      {
        maxHeaderSize: limits.maxHeaderBytes ?? 16 * 1024,
        headersTimeout: limits.headersTimeoutMs ?? 10_000,
        requestTimeout: limits.requestTimeoutMs ?? 300_000,
        keepAliveTimeout: limits.keepAliveTimeoutMs ?? 5000,
        connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs ?? 1000),
        noDelay: true,
        // An upgrade request with a body is served as plain HTTP, its Upgrade
        // header dropped as hop-by-hop: Node hands an upgrade's body over
        // unparsed, mixed with whatever the client sends next.
        shouldUpgradeCallback: (req) => !hasBody(req),
      },
      this.#onRequest,
    );
    this.#server.timeout = limits.idleTimeoutMs ?? 60_000;
    this.#server.on("clientError", this.#onClientError);
    this.#server.on("upgrade", this.#onUpgrade);
    this.#gateConnections();
  }

  /** Starts listening; resolves with the bound address. */
  async listen(port: number, host?: string, options: HttpListenOptions = {}): Promise<AddressInfo> {
    // `exclusive` keeps a cluster worker from sharing the primary's socket:
    // with SO_REUSEPORT each worker binds its own and the kernel spreads connections.
    const reusePort = options.reusePort ?? false;
    this.#server.listen({ port, host, reusePort, exclusive: reusePort });
    await once(this.#server, "listening");
    return this.#server.address() as AddressInfo;
  }

  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  /**
   * Stops accepting, lets requests in flight finish (each connection is
   * closed after its current response), then releases the backend pools.
   * Upgraded tunnels (WebSockets) have no request boundary to wait for and
   * are cut at once.
   */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    for (const tunnel of this.#tunnels) tunnel.destroy();
    await closed;
    await this.#pools.close();
  }

  readonly #onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    if (this.#closing) res.setHeader("connection", "close");
    const checked = checkRequest(req, this.#limits.maxBodyBytes);
    if ("status" in checked) {
      this.#replyError(req, res, started, undefined, checked);
      return;
    }
    const { key, target } = checked;
    const cached = this.#router.cachedRoute(key);
    if (cached) {
      this.#forward(req, res, target, cached, started);
      return;
    }
    // A client that leaves while its route is looked up (a cold start can
    // take seconds) gives its place in the wake queue back.
    const left = new AbortController();
    const leave = () => left.abort();
    res.once("close", leave);
    const context = { protocol: "http" as const, clientAddress: req.socket.remoteAddress };
    this.#router.route(key, context, { signal: left.signal }).then(
      (route) => {
        res.off("close", leave);
        if (res.destroyed) {
          this.#replyError(
            req,
            res,
            started,
            route,
            responseForBackendError(new ClientGoneError()),
          );
          return;
        }
        this.#forward(req, res, target, route, started);
      },
      (error: unknown) => {
        res.off("close", leave);
        const answer = responseForResolverError(toResolverError(error));
        this.#replyError(req, res, started, undefined, answer);
      },
    );
  };

  #forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    route: Route,
    started: number,
  ): void {
    let extra: string[] | undefined;
    if (route.coldStartMs > 0) {
      extra = ["x-nexus-cold-start-ms", String(Math.round(route.coldStartMs))];
    }
    if (this.#telemetry) {
      extra ??= [];
      extra.push(
        "x-nexus-proxy-latency-ms",
        (performance.now() - started).toFixed(3),
        "x-nexus-cache",
        route.cacheHit ? "hit" : "miss",
      );
    }
    try {
      this.#router.admit(route);
    } catch (error) {
      const answer = responseForResolverError(toResolverError(error));
      this.#replyError(req, res, started, route, answer);
      return;
    }
    const request = this.#backendRequest(req, target, route);
    const pool = this.#pools.poolFor(route);
    this.#send(
      (handler) => pool.dispatch(request, handler),
      res,
      extra,
      (outcome) => {
        if (!closedBeforeResponse(outcome.error)) {
          this.#finish(req, res, route, started, outcome, true);
        } else if (mayResend(req.method, request.body !== null)) {
          // Sent once more on a new connection; only that attempt tells about the
          // backend (the first one gives back a half-open probe it may hold).
          this.#router.reportInconclusive(route);
          this.metrics.retries.inc({ route: route.key, backend: route.backend });
          this.#send(
            (handler) => pool.dispatchOnNewConnection(request, handler),
            res,
            extra,
            (retried) => this.#finish(req, res, route, started, retried, true),
          );
        } else {
          this.#finish(req, res, route, started, outcome, !wasReused(outcome.error));
        }
      },
    );
  }

  /** The request as the backend gets it: head rewritten, body streamed. */
  #backendRequest(req: IncomingMessage, target: string, route: Route): BackendRequest {
    const headers = requestHeadersForBackend(
      req.rawHeaders,
      req.headers.connection,
      req.headers.host ?? route.key,
      this.#forwardedFor(req),
    );
    const body = this.#requestBody(req);
    const length = req.headers["content-length"];
    // A body without a declared length goes on as it came: chunked.
    const chunked = body !== null && length === undefined;
    let head = `${req.method} ${target} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    if (chunked) head += "transfer-encoding: chunked\r\n";
    else if (length !== undefined) head += `content-length: ${length}\r\n`;
    head += "\r\n";
    return {
      method: req.method ?? "GET",
      head,
      body,
      chunked,
      headTimeoutMs: this.#limits.backendResponseTimeoutMs ?? route.result.timeout ?? 30_000,
      bodyTimeoutMs: this.#limits.backendIdleTimeoutMs ?? 60_000,
    };
  }

  #send(
    dispatch: (handler: ResponseForwarder) => Exchange,
    res: ServerResponse,
    extra: readonly string[] | undefined,
    done: (outcome: ForwardOutcome) => void,
  ): void {
    const forwarder = new ResponseForwarder(res, this.#via, extra, done);
    try {
      forwarder.attach(dispatch(forwarder));
    } catch (error) {
      forwarder.fail(error);
    }
  }

  #requestBody(req: IncomingMessage): Readable | null {
    if (!hasBody(req)) return null;
    const limit = this.#limits.maxBodyBytes;
    // A declared length was checked against the limit before routing.
    if (limit === undefined || req.headers["content-length"] !== undefined) return req;
    return limitBody(req, limit);
  }

  #finish(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    started: number,
    outcome: ForwardOutcome,
    /** False when the failure says nothing about the backend (a stale keep-alive connection). */
    blameBackend: boolean,
  ): void {
    const backend = route.backend;
    if (outcome.error === undefined) {
      // Any complete response, 5xx included: the backend is up and speaking HTTP.
      this.#router.reportSuccess(route);
    } else {
      const answer = responseForBackendError(outcome.error);
      // Passive outlier detection: a backend that breaks exchanges feeds its breaker.
      const backendFault = answer.reason === "backend_error" || answer.reason === "backend_timeout";
      // The router has already counted its own refusals (breaker open, connect failed).
      if (!(outcome.error instanceof ResolverError)) {
        if (backendFault && blameBackend) this.#router.reportFailure(route);
        else this.#router.reportInconclusive(route);
      }
      // Not sent yet (or the client is gone: then it is only counted).
      if (!res.headersSent || answer.reason === "client_closed") {
        this.#replyError(req, res, started, route, answer);
        return;
      }
      // The status is gone already: cutting the connection is the only
      // honest way to tell the client the body is incomplete.
      res.destroy();
      this.metrics.errors.inc({ route: route.key, backend, reason: "response_cut" });
    }
    const seconds = (performance.now() - started) / 1000;
    this.metrics.responses.record(route.key, backend, outcome.status, seconds);
    if (this.#closing) setImmediate(() => this.#server.closeIdleConnections());
  }

  #replyError(
    req: IncomingMessage,
    res: ServerResponse,
    started: number,
    route: Route | undefined,
    error: ErrorResponse,
  ): void {
    const labels = {
      route: route?.key ?? "",
      backend: route?.backend ?? "",
    };
    this.metrics.errors.inc({ ...labels, reason: error.reason });
    const seconds = (performance.now() - started) / 1000;
    this.metrics.responses.record(labels.route, labels.backend, error.status, seconds);
    if (res.destroyed) return;
    const body = `${error.message}\n`;
    const headers: Record<string, string | number> = {
      "content-type": "text/plain; charset=utf-8",
      "content-length": Buffer.byteLength(body),
    };
    if (error.retryAfter !== undefined) headers["retry-after"] = error.retryAfter;
    // An unread request body would have to be drained before the next request.
    if ((hasBody(req) && !req.complete) || this.#closing) headers.connection = "close";
    res.writeHead(error.status, headers);
    res.end(body);
  }

  readonly #onUpgrade = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    client.on("error", () => client.destroy());
    const checked = checkRequest(req);
    if ("status" in checked || this.#closing) {
      const answer = "status" in checked ? checked : { status: 503, message: "shutting down" };
      writeRawResponse(client, answer.status, answer.message);
      return;
    }
    const { key, target } = checked;
    const upgrading = new UpgradingClient(client, head);
    const context = { protocol: "http" as const, clientAddress: req.socket.remoteAddress };
    const options = { signal: upgrading.signal };
    const router = this.#router;
    let routed: Route | undefined;
    router
      .route(key, context, options)
      .then(async (route) => {
        routed = route;
        // Like pooled requests, an upgrade is judged by the backend's answer.
        const backend: Socket = await router.connect(route, context, {
          ...options,
          judgedByExchange: true,
        });
        if (client.destroyed) {
          backend.destroy();
          router.reportInconclusive(route);
          return;
        }
        this.#tunnels.add(client);
        try {
          await tunnelUpgrade(req, upgrading, {
            backend,
            target,
            host: req.headers.host ?? key,
            forwarded: this.#forwardedFor(req),
            timeoutMs: this.#limits.backendResponseTimeoutMs ?? route.result.timeout ?? 30_000,
            answered: () => router.reportSuccess(route),
          });
        } finally {
          this.#tunnels.delete(client);
        }
      })
      .catch((error: unknown) => {
        // The router has counted its own refusals; a backend that failed
        // before answering is a failure, unless the client had left.
        if (routed && !(error instanceof ResolverError)) {
          if (upgrading.signal.aborted) router.reportInconclusive(routed);
          else router.reportFailure(routed);
        }
        this.#refuseUpgrade(client, routed, responseForBackendError(error));
      });
  };

  #refuseUpgrade(client: Duplex, route: Route | undefined, answer: ErrorResponse): void {
    this.metrics.errors.inc({
      route: route?.key ?? "",
      backend: route?.backend ?? "",
      reason: answer.reason,
    });
    const headers: Record<string, number> = {};
    if (answer.retryAfter !== undefined) headers["retry-after"] = answer.retryAfter;
    writeRawResponse(client, answer.status, answer.message, headers);
  }

  readonly #onClientError = (error: Error & { code?: string }, socket: Duplex): void => {
    if (error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const status =
      error.code === "HPE_HEADER_OVERFLOW"
        ? 431
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? 408
          : 400;
    this.metrics.errors.inc({ route: "", backend: "", reason: `client_${status}` });
    writeRawResponse(socket, status, STATUS_CODES[status] ?? "bad request");
  };

  #forwardedFor(req: IncomingMessage): ForwardedFor {
    return { clientAddress: req.socket.remoteAddress, proto: "http", via: this.#via };
  }

  /**
   * Node's HTTP server can only drop connections past `maxConnections`
   * silently; to answer them with a 503 instead, its own connection
   * listener is wrapped by a gate that counts open connections.
   */
  #gateConnections(): void {
    const server = this.#server;
    const [serve] = server.listeners("connection") as ((socket: Socket) => void)[];
    if (!serve) throw new Error("the HTTP server has no connection listener");
    server.removeListener("connection", serve);
    const max = this.#limits.maxConnections ?? Number.POSITIVE_INFINITY;
    server.on("connection", (socket: Socket) => {
      if (this.#connections >= max) {
        this.metrics.errors.inc({ route: "", backend: "", reason: "too_many_connections" });
        socket.on("error", () => socket.destroy());
        socket.setTimeout(10_000, () => socket.destroy());
        writeRawResponse(socket, 503, "too many connections", { "retry-after": 1 });
        return;
      }
      this.#connections += 1;
      this.metrics.activeConnections.inc();
      socket.once("close", () => {
        this.#connections -= 1;
        this.metrics.activeConnections.dec();
      });
      serve.call(server, socket);
    });
  }
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return length === undefined ? req.headers["transfer-encoding"] !== undefined : length !== "0";
}
