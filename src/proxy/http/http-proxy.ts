// The HTTP/1.1 reverse proxy: reads each request from the client connection
// (src/proxy/http/client), routes it by its Host header through the
// BackendRouter, and streams it to a pooled keep-alive connection to that
// backend and the response back. Upgrades (WebSocket) get a dedicated
// tunnel. Every failure is answered with its own status; nothing one client
// sends can stop the proxy from serving the others.
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { Registry } from "prom-client";
import {
  type Admission,
  type BackendRouter,
  ResolverError,
  type Route,
  toResolverError,
} from "../core/index.ts";
import type { BackendRequest, Exchange } from "./backend/backend-request.ts";
import { BackendPools, type PoolOptions } from "./backend-pools.ts";
import { BreakerVerdict } from "./breaker-verdict.ts";
import type {
  ClientConnection,
  ClientLimits,
  ClientRequest,
  RequestHandler,
} from "./client/client-connection.ts";
import { ClientConnections } from "./client/client-connections.ts";
import type { ClientRequestError } from "./client/request-error.ts";
import type { RequestHead } from "./client/request-head.ts";
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

export class HttpProxy implements RequestHandler {
  readonly metrics: HttpMetrics;
  readonly #server: Server;
  readonly #connections: ClientConnections;
  readonly #pools: BackendPools;
  readonly #limits: HttpLimits;
  readonly #telemetry: boolean;
  readonly #via: string;
  readonly #tunnels = new Set<Socket>();
  readonly #router: BackendRouter;
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(options: HttpProxyOptions) {
    this.#router = options.router;
    this.#limits = options.limits ?? {};
    this.#telemetry = options.telemetryHeaders ?? false;
    this.#via = `1.1 ${options.via ?? "nexus"}`;
    this.metrics = options.metrics ?? new HttpMetrics(new Registry());
    this.#pools = new BackendPools(options.router, options.pool);
    const limits = this.#limits;
    const clientLimits: ClientLimits = {
      maxHeaderBytes: limits.maxHeaderBytes ?? 16 * 1024,
      headersTimeoutMs: limits.headersTimeoutMs ?? 10_000,
      requestTimeoutMs: limits.requestTimeoutMs ?? 300_000,
      keepAliveTimeoutMs: limits.keepAliveTimeoutMs ?? 5000,
      idleTimeoutMs: limits.idleTimeoutMs ?? 60_000,
      maxBodyBytes: limits.maxBodyBytes,
    };
    const metrics = this.metrics;
    this.#connections = new ClientConnections(
      this,
      clientLimits,
      limits.maxConnections ?? Number.POSITIVE_INFINITY,
      {
        opened: () => metrics.activeConnections.inc(),
        closed: () => metrics.activeConnections.dec(),
        refused: () =>
          metrics.errors.inc({ route: "", backend: "", reason: "too_many_connections" }),
      },
    );
    // Half-open, so the connection decides what a client's FIN means.
    this.#server = createServer({ noDelay: true, allowHalfOpen: true }, this.#connections.accept);
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
   * are cut at once. Connections still open after `drainTimeoutMs` (a
   * response that streams on and on) are cut; without it, close() waits.
   */
  close(drainTimeoutMs?: number): Promise<void> {
    // A second call resolves with the first; a shorter deadline it brings applies.
    const drained = this.#connections.close(drainTimeoutMs);
    this.#closed ??= this.#closeAfter(drained);
    return this.#closed;
  }

  async #closeAfter(drained: Promise<void>): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const tunnel of this.#tunnels) tunnel.destroy();
    await drained;
    await closed;
    await this.#pools.close();
  }

  onRequest(request: ClientRequest): void {
    const started = performance.now();
    const checked = checkRequest(request.head, this.#limits.maxBodyBytes);
    if ("status" in checked) {
      this.#replyError(request, started, undefined, checked);
      return;
    }
    const { key, target } = checked;
    const cached = this.#router.cachedRoute(key);
    if (cached) {
      this.#forward(request, target, cached, started);
      return;
    }
    // A client that leaves while its route is looked up (a cold start can
    // take seconds) gives its place in the wake queue back.
    const left = new AbortController();
    const response = request.response;
    response.listen({ onDrain() {}, onClientGone: () => left.abort() });
    const context = { protocol: "http" as const, clientAddress: request.connection.remoteAddress };
    this.#router.route(key, context, { signal: left.signal }).then(
      (route) => {
        response.listen(undefined);
        if (response.gone) {
          const gone = responseForBackendError(new ClientGoneError());
          this.#replyError(request, started, route, gone);
          return;
        }
        this.#forward(request, target, route, started);
      },
      (error: unknown) => {
        response.listen(undefined);
        // A client that left while it waited gave up; the resolver did not fail it.
        const answer = response.gone
          ? responseForBackendError(new ClientGoneError())
          : responseForResolverError(toResolverError(error));
        this.#replyError(request, started, undefined, answer);
      },
    );
  }

  #forward(request: ClientRequest, target: string, route: Route, started: number): void {
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
    let verdict: BreakerVerdict;
    try {
      verdict = new BreakerVerdict(this.#router, route, this.#router.admit(route));
    } catch (error) {
      const answer = responseForResolverError(toResolverError(error));
      this.#replyError(request, started, route, answer);
      return;
    }
    // A body that already failed (too large, malformed, too slow) is answered as such.
    const failed = request.body?.errored;
    if (failed) {
      verdict.inconclusive();
      this.#replyError(request, started, route, responseForBackendError(failed));
      return;
    }
    const backendRequest = this.#backendRequest(request, target, route);
    const pool = this.#pools.poolFor(route);
    // The client waits for this before sending a body it announced with Expect.
    request.connection.sendContinue();
    this.#send(
      (handler) => pool.dispatch(backendRequest, handler),
      request,
      extra,
      verdict,
      (outcome) => {
        const finish = (result: ForwardOutcome, blameBackend: boolean) =>
          this.#finish(request, route, verdict, started, result, blameBackend);
        if (!closedBeforeResponse(outcome.error)) {
          finish(outcome, true);
        } else if (mayResend(request.head.method, backendRequest.body !== null)) {
          // Sent once more on a new connection, under the same admission:
          // only that attempt tells about the backend.
          this.metrics.retries.inc({ route: route.key, backend: route.backend });
          this.#send(
            (handler) => pool.dispatchOnNewConnection(backendRequest, handler),
            request,
            extra,
            verdict,
            (retried) => finish(retried, true),
          );
        } else {
          finish(outcome, !wasReused(outcome.error));
        }
      },
    );
  }

  /** The request as the backend gets it: head rewritten, body streamed. */
  #backendRequest(request: ClientRequest, target: string, route: Route): BackendRequest {
    const { head, body } = request;
    const headers = requestHeadersForBackend(
      head.headers,
      head.connection,
      head.host ?? route.key,
      this.#forwardedFor(request.connection),
    );
    const length = head.contentLength;
    // A body without a declared length goes on as it came: chunked.
    const chunked = body !== null && length === undefined;
    let text = `${head.method} ${target} HTTP/1.1\r\n`;
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    if (chunked) text += "transfer-encoding: chunked\r\n";
    else if (length !== undefined) text += `content-length: ${length}\r\n`;
    text += "\r\n";
    return {
      method: head.method,
      head: text,
      body,
      chunked,
      headTimeoutMs: this.#limits.backendResponseTimeoutMs ?? route.result.timeout ?? 30_000,
      bodyTimeoutMs: this.#limits.backendIdleTimeoutMs ?? 60_000,
    };
  }

  #send(
    dispatch: (handler: ResponseForwarder) => Exchange,
    request: ClientRequest,
    extra: readonly string[] | undefined,
    verdict: BreakerVerdict,
    done: (outcome: ForwardOutcome) => void,
  ): void {
    const forwarder = new ResponseForwarder(
      request.response,
      this.#via,
      extra,
      verdict.answered,
      done,
    );
    try {
      forwarder.attach(dispatch(forwarder));
    } catch (error) {
      forwarder.fail(error);
    }
  }

  #finish(
    request: ClientRequest,
    route: Route,
    verdict: BreakerVerdict,
    started: number,
    outcome: ForwardOutcome,
    /** False when the failure says nothing about the backend (a stale keep-alive connection). */
    blameBackend: boolean,
  ): void {
    const backend = route.backend;
    const response = request.response;
    if (outcome.error === undefined) {
      verdict.succeeded();
    } else {
      const answer = responseForBackendError(outcome.error);
      // Passive outlier detection: a backend that breaks exchanges feeds its breaker.
      const backendFault = answer.reason === "backend_error" || answer.reason === "backend_timeout";
      // The router has already counted its own refusals (a failed connect);
      // those, and failures that are not the backend's, only give the pass back.
      const counted = outcome.error instanceof ResolverError;
      if (backendFault && blameBackend && !counted) verdict.failed();
      else verdict.inconclusive();
      // Not sent yet (or the client is gone: then it is only counted).
      if (!response.headersSent || answer.reason === "client_closed") {
        this.#replyError(request, started, route, answer);
        return;
      }
      // The status is gone already: cutting the connection is the only
      // honest way to tell the client the body is incomplete.
      response.destroy();
      this.metrics.errors.inc({ route: route.key, backend, reason: "response_cut" });
    }
    const seconds = (performance.now() - started) / 1000;
    this.metrics.responses.record(route.key, backend, outcome.status, seconds);
  }

  #replyError(
    request: ClientRequest,
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
    const { response, body } = request;
    if (response.gone) return;
    const headers: string[] = [];
    if (error.retryAfter !== undefined) headers.push("retry-after", String(error.retryAfter));
    // An unread request body would have to be drained before the next request.
    if (body !== null && !body.complete) response.closeAfter();
    response.sendText(error.status, error.message, headers);
  }

  onUpgrade(head: RequestHead, connection: ClientConnection, early: Buffer): void {
    const client = connection.socket;
    client.on("error", () => client.destroy());
    const checked = checkRequest(head);
    if ("status" in checked || this.#closing) {
      const answer = "status" in checked ? checked : { status: 503, message: "shutting down" };
      writeRawResponse(client, answer.status, answer.message);
      return;
    }
    const { key, target } = checked;
    const upgrading = new UpgradingClient(client, early);
    // From here close() cuts it, whether it waits for a route, a connect or a 101.
    this.#tunnels.add(client);
    client.once("close", () => this.#tunnels.delete(client));
    const context = { protocol: "http" as const, clientAddress: connection.remoteAddress };
    const options = { signal: upgrading.signal };
    const router = this.#router;
    let routed: Route | undefined;
    let admission: Admission | undefined;
    router
      .route(key, context, options)
      .then(async (route) => {
        routed = route;
        // Like pooled requests, an upgrade is judged by the backend's answer.
        admission = router.admit(route);
        const backend: Socket = await router.connect(route, context, {
          ...options,
          judgedByExchange: true,
        });
        if (client.destroyed || this.#closing) {
          // A tunnel opened now would outlive the shutdown that began meanwhile.
          backend.destroy();
          router.reportInconclusive(route, admission);
          if (!client.destroyed) writeRawResponse(client, 503, "shutting down");
          return;
        }
        await tunnelUpgrade(head, upgrading, {
          backend,
          target,
          host: head.host ?? key,
          forwarded: this.#forwardedFor(connection),
          timeoutMs: this.#limits.backendResponseTimeoutMs ?? route.result.timeout ?? 30_000,
          answered: () => router.reportSuccess(route),
        });
      })
      .catch((error: unknown) => {
        // The router has counted its own refusals; a backend that failed
        // before answering is a failure, unless the client had left.
        if (routed && admission) {
          const counted = error instanceof ResolverError;
          if (counted || upgrading.signal.aborted) router.reportInconclusive(routed, admission);
          else router.reportFailure(routed);
        }
        this.#refuseUpgrade(client, routed, responseForBackendError(error));
      });
  }

  #refuseUpgrade(client: Socket, route: Route | undefined, answer: ErrorResponse): void {
    this.metrics.errors.inc({
      route: route?.key ?? "",
      backend: route?.backend ?? "",
      reason: answer.reason,
    });
    const headers: Record<string, number> = {};
    if (answer.retryAfter !== undefined) headers["retry-after"] = answer.retryAfter;
    writeRawResponse(client, answer.status, answer.message, headers);
  }

  onRefused(error: ClientRequestError): void {
    this.metrics.errors.inc({ route: "", backend: "", reason: `client_${error.status}` });
  }

  #forwardedFor(connection: ClientConnection): ForwardedFor {
    return { clientAddress: connection.remoteAddress, proto: "http", via: this.#via };
  }
}
