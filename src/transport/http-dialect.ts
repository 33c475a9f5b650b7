// The HTTP/1.1 dialect: a node:http server that never listens itself; the
// service server hands it each connection whose first bytes are an HTTP
// request. Routes, auth and errors are the same as in the other dialects:
//   curl --unix-socket users.sock -H "Authorization: Bearer $TOKEN" http://svc/user/1
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { AuthFailures } from "../security/auth-failures.ts";
import { Call } from "../service/call.ts";
import { ServiceError } from "../service/errors.ts";
import type { ConnectionHost, DialectConnection } from "./connection-host.ts";
import { whenStillSilent } from "./silence.ts";

const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * While draining, how long an idle keep-alive connection stays open. Closing
 * it races with a request the client may be sending on it at that moment
 * (a proxy's pool under load reuses connections every few milliseconds); in
 * this grace such a request still arrives and is answered with Connection: close.
 */
const DRAINING_IDLE_GRACE_MS = 1000;

export class HttpDialect implements DialectConnection {
  readonly #host: ConnectionHost;
  readonly #server: Server;
  readonly #authFailures = new WeakMap<Socket, AuthFailures>();
  /**
   * Requests in progress on each connection that has had one. The server
   * never listens, so node:http does not track connections and
   * closeIdleConnections() would find none: drain closes idle ones itself.
   */
  readonly #requestsInProgress = new Map<Socket, number>();
  #draining = false;

  constructor(host: ConnectionHost) {
    this.#host = host;
    this.#server = createServer(
      {
        keepAliveTimeout: host.limits.idleTimeoutMs,
      },
      (request, response) => void this.#handle(request, response),
    );
    this.#server.on("clientError", (error, socket) => this.#clientError(error, socket));
    // Header and keep-alive timeouts: node:http destroys the socket unless someone listens.
    this.#server.on("timeout", (socket: Socket) => whenStillSilent(socket, () => socket.destroy()));
  }

  /** Serves an accepted socket whose first bytes (already read) are `firstBytes`. */
  accept(socket: Socket, firstBytes: Buffer): void {
    // node:http enforces headersTimeout only for servers that listen themselves,
    // so the socket keeps the handshake timeout until a request's headers are in.
    socket.setTimeout(this.#host.limits.handshakeTimeoutMs);
    socket.once("close", () => this.#requestsInProgress.delete(socket));
    socket.pause();
    socket.unshift(firstBytes);
    this.#server.emit("connection", socket);
    socket.resume();
  }

  /** Busy connections close after their current response; those still idle after a short grace, then. */
  drain(): void {
    this.#draining = true;
    const closeIdle = () => {
      for (const [socket, inProgress] of this.#requestsInProgress) {
        if (inProgress === 0) socket.destroy();
      }
    };
    setTimeout(closeIdle, DRAINING_IDLE_GRACE_MS).unref();
  }

  #requestStarted(socket: Socket): void {
    this.#requestsInProgress.set(socket, (this.#requestsInProgress.get(socket) ?? 0) + 1);
  }

  /** A response went out (or was cut): a connection left idle while draining closes. */
  #requestEnded(socket: Socket): void {
    const inProgress = this.#requestsInProgress.get(socket);
    if (inProgress === undefined) return;
    this.#requestsInProgress.set(socket, inProgress - 1);
    if (inProgress === 1 && this.#draining) socket.destroy();
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { stats, runtime, tokenCheck } = this.#host;
    // The body must keep coming: a request that stalls for the idle timeout is cut.
    request.setTimeout(this.#host.limits.idleTimeoutMs, () =>
      request.destroy(new ServiceError("TIMEOUT", "the request body stopped arriving")),
    );
    const method = request.method ?? "GET";
    const token = bearerToken(request.headers.authorization);
    const caller = { dialect: "http", authenticated: tokenCheck.matches(token) } as const;
    const started = stats.begin();
    let path = request.url ?? "/";
    let call: Call | undefined;
    let failure: ServiceError | undefined;
    const socket = request.socket;
    this.#requestStarted(socket);
    response.on("close", () => {
      if (!response.writableFinished) call?.cancel();
      this.#requestEnded(socket);
    });
    try {
      const url = parseTarget(path);
      path = url.pathname;
      const data = await this.#readData(request, url);
      // A handler may take its time; after the response node:http applies keepAliveTimeout.
      request.setTimeout(0);
      call = new Call({ method, path, data, timeoutMs: 0, caller });
      const result = await runtime.dispatch(call);
      if (this.#draining) response.shouldKeepAlive = false;
      if (result === undefined) {
        response.writeHead(204).end();
      } else {
        sendJson(response, 200, JSON.stringify(result), {});
      }
    } catch (error) {
      failure = error instanceof ServiceError ? error : this.#unexpected(error);
      const tooManyFailures =
        failure.code === "UNAUTHORIZED" && this.#recordAuthFailure(request.socket);
      if (this.#draining || tooManyFailures) response.shouldKeepAlive = false;
      sendError(response, failure);
    }
    stats.end({ method, path, caller }, started, failure?.code);
  }

  /** The JSON body for methods that carry one, else the query string as an object. */
  async #readData(request: IncomingMessage, url: URL): Promise<unknown> {
    const query = url.searchParams.size > 0 ? Object.fromEntries(url.searchParams) : undefined;
    if (!BODY_METHODS.has(request.method ?? "")) return query;
    const limit = this.#host.limits.maxMessageBytes;
    if (Number(request.headers["content-length"] ?? 0) > limit) {
      throw new ServiceError("PAYLOAD_TOO_LARGE", `the body exceeds the limit of ${limit} bytes`);
    }
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      length += chunk.length;
      if (length > limit) {
        throw new ServiceError("PAYLOAD_TOO_LARGE", `the body exceeds the limit of ${limit} bytes`);
      }
      chunks.push(chunk);
    }
    if (length === 0) return query;
    try {
      return JSON.parse(Buffer.concat(chunks, length).toString("utf8"));
    } catch {
      throw new ServiceError("BAD_REQUEST", "the body is not valid JSON");
    }
  }

  #recordAuthFailure(socket: Socket): boolean {
    let failures = this.#authFailures.get(socket);
    if (failures === undefined) {
      failures = new AuthFailures(this.#host.limits.maxAuthFailures);
      this.#authFailures.set(socket, failures);
    }
    return failures.record();
  }

  #unexpected(error: unknown): ServiceError {
    this.#host.log.error({ err: error }, "HTTP request failed");
    return new ServiceError("INTERNAL", "internal error");
  }

  #clientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === "HPE_HEADER_OVERFLOW" ? 431 : 400;
    const body = JSON.stringify({
      error: {
        code: "BAD_REQUEST",
        message: `malformed HTTP request (${error.code ?? "parse error"})`,
      },
    });
    socket.end(
      `HTTP/1.1 ${status} Bad Request\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
}

/** The request target in origin form ("/user/1?x=2") or absolute form ("http://svc/user/1"). */
function parseTarget(target: string): URL {
  try {
    return target.startsWith("/") ? new URL(`http://service${target}`) : new URL(target);
  } catch {
    throw new ServiceError("BAD_REQUEST", "the request target is not a valid URL");
  }
}

function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

function sendError(response: ServerResponse, error: ServiceError): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const headers: Record<string, string> = {};
  if (error.code === "UNAUTHORIZED") headers["www-authenticate"] = 'Bearer realm="nexus"';
  const allow = (error.details as { allow?: string[] } | undefined)?.allow;
  if (error.code === "METHOD_NOT_ALLOWED" && allow !== undefined) headers.allow = allow.join(", ");
  sendJson(response, error.status, JSON.stringify({ error: error.toWire() }), headers);
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string>,
): void {
  headers["content-type"] = "application/json";
  headers["content-length"] = String(Buffer.byteLength(body));
  response.writeHead(status, headers).end(body);
}
