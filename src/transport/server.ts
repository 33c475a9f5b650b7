// A service served on its Unix socket. Each accepted connection is sniffed
// for its dialect (framed RPC, JSON lines, HTTP/1.1) and handed to that
// dialect's handler; all of them share one ServiceRuntime.
import { createServer, type Server, type Socket } from "node:net";
import pino, { type Logger } from "pino";
import { ensureSocketDir, resolveSocketDir, socketPathFor } from "../security/socket-dir.ts";
import { loadOrCreateToken, TokenCheck, tokenPathFor } from "../security/token.ts";
import type { ServiceDefinition } from "../service/define.ts";
import { ServiceRuntime } from "../service/runtime.ts";
import type { CodecName } from "../wire/codec.ts";
import { type Dialect, detectDialect } from "../wire/dialect.ts";
import { PREFACE } from "../wire/frame.ts";
import { Client } from "./client.ts";
import type { ConnectionHost, DialectConnection } from "./connection-host.ts";
import { HttpDialect } from "./http-dialect.ts";
import { JsonLinesConnection } from "./json-lines-connection.ts";
import { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";
import { RpcServerConnection } from "./rpc-server-connection.ts";
import { type RequestOutcome, ServerStats, type StatsSnapshot } from "./server-stats.ts";
import { whenStillSilent } from "./silence.ts";
import { type BoundSocket, bindSocket, releaseSocket } from "./socket-binding.ts";

export interface ServeOptions {
  /** Defaults to NEXUS_SOCKET_DIR, then /tmp/nexus. */
  readonly socketDir?: string;
  /** Listen here instead of `<socketDir>/<name>.sock`. */
  readonly socketPath?: string;
  /** Instance number n > 0 listens on `<name>@<n>.sock`. */
  readonly instance?: number;
  /** Atomically take over a live socket at the path (zero-downtime reload). */
  readonly replace?: boolean;
  /** The shared secret; defaults to the token file's. */
  readonly token?: string;
  /** Defaults to `<socketDir>/token`. */
  readonly tokenPath?: string;
  readonly limits?: Partial<ServerLimits>;
  /** Codecs offered in the framed-RPC handshake; default both. */
  readonly codecs?: readonly CodecName[];
  readonly log?: Logger;
  /** The client handlers use to call other services; one is made if absent. */
  readonly client?: Client;
  /** Called after every request, for figures (keep it cheap). */
  readonly onRequest?: (outcome: RequestOutcome) => void;
}

export interface DrainOptions {
  /** After this long, connections still open are destroyed. Default 30 s. */
  readonly timeoutMs?: number;
}

const UNKNOWN_DIALECT_REPLY = `${JSON.stringify({
  error: {
    code: "BAD_REQUEST",
    message:
      "unrecognized protocol: expected the framed-RPC preface, a JSON object or an HTTP/1.1 request",
  },
})}\n`;

/** Starts a service: builds its dependencies, runs its start hook, and listens. */
export async function serve(
  // biome-ignore lint/suspicious/noExplicitAny: serves a definition of any dependencies and routes
  definition: ServiceDefinition<any, any>,
  options: ServeOptions = {},
): Promise<ServiceServer> {
  const socketDir = resolveSocketDir(options.socketDir);
  const path = options.socketPath ?? socketPathFor(socketDir, definition.name, options.instance);
  await ensureSocketDir(socketDir);
  const token =
    options.token ?? (await loadOrCreateToken(options.tokenPath ?? tokenPathFor(socketDir)));
  const log = (options.log ?? pino({ name: "nexus" })).child({ service: definition.name });
  const ownsClient = options.client === undefined;
  const client = options.client ?? new Client({ socketDir, token, log });
  const runtime = await ServiceRuntime.start(definition, log, client);
  const host: ConnectionHost = {
    runtime,
    tokenCheck: new TokenCheck(token),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    stats: new ServerStats(options.onRequest),
    log,
    codecs: options.codecs ?? ["msgpack", "json"],
  };
  const server = new ServiceServer(host, ownsClient ? client : undefined);
  try {
    await server.listen(path, options.replace === true);
  } catch (error) {
    await runtime.stop();
    if (ownsClient) client.close();
    throw error;
  }
  return server;
}

export class ServiceServer {
  readonly #host: ConnectionHost;
  readonly #ownedClient: Client | undefined;
  readonly #server: Server;
  readonly #http: HttpDialect;
  readonly #handlers = new Map<Socket, DialectConnection | undefined>();
  #bound: BoundSocket | undefined;
  #draining: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(host: ConnectionHost, ownedClient: Client | undefined) {
    this.#host = host;
    this.#ownedClient = ownedClient;
    this.#http = new HttpDialect(host);
    // Half-open: a client may send its last request and shut its side; it still gets the answers.
    this.#server = createServer({ allowHalfOpen: true }, (socket) => this.#accept(socket));
  }

  async listen(path: string, replace: boolean): Promise<void> {
    this.#bound = await bindSocket(this.#server, path, replace);
    this.#host.log.debug({ path }, "listening");
  }

  get name(): string {
    return this.#host.runtime.name;
  }

  /** The socket path clients connect to. */
  get path(): string {
    if (this.#bound === undefined) throw new Error("the server is not listening");
    return this.#bound.path;
  }

  get stats(): StatsSnapshot {
    return this.#host.stats.snapshot();
  }

  /**
   * Stops accepting, asks every connection to wind down (GOAWAY for framed
   * RPC; JSON-lines and HTTP connections close after their current
   * requests) and resolves when all are closed.
   */
  drain(options: DrainOptions = {}): Promise<void> {
    this.#draining ??= this.#drain(options.timeoutMs ?? 30_000);
    return this.#draining;
  }

  /** Drains, runs the service's stop hook, and removes the socket if it is still ours. */
  close(options: DrainOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  async #drain(timeoutMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#http.drain();
    for (const [socket, handler] of this.#handlers) {
      if (handler === undefined) socket.destroy();
      else handler.drain();
    }
    const timer = setTimeout(() => {
      for (const socket of this.#handlers.keys()) socket.destroy();
    }, timeoutMs);
    await closed;
    clearTimeout(timer);
  }

  async #close(options: DrainOptions): Promise<void> {
    await this.drain(options);
    if (this.#bound !== undefined) await releaseSocket(this.#bound);
    await this.#host.runtime.stop();
    this.#ownedClient?.close();
  }

  #accept(socket: Socket): void {
    const { stats, limits, log } = this.#host;
    if (this.#draining !== undefined) {
      socket.destroy();
      return;
    }
    stats.connections++;
    this.#handlers.set(socket, undefined);
    socket.on("error", (error) => log.debug({ err: error }, "connection error"));
    socket.on("close", () => {
      stats.connections--;
      this.#handlers.delete(socket);
    });
    socket.setTimeout(limits.handshakeTimeoutMs);
    let received: Buffer = Buffer.alloc(0);
    const onTimeout = () => whenStillSilent(socket, () => socket.destroy());
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const dialect = detectDialect(received);
      if (dialect === undefined) return;
      socket.off("data", onData);
      socket.off("timeout", onTimeout);
      if (dialect === "unknown") socket.end(UNKNOWN_DIALECT_REPLY, () => socket.destroy());
      else this.#handlers.set(socket, this.#start(dialect, socket, received));
    };
    socket.on("data", onData);
    socket.on("timeout", onTimeout);
    socket.once("end", () => {
      if (this.#handlers.get(socket) === undefined) socket.destroy();
    });
  }

  #start(dialect: Dialect, socket: Socket, firstBytes: Buffer): DialectConnection {
    switch (dialect) {
      case "rpc":
        return new RpcServerConnection(socket, this.#host, firstBytes.subarray(PREFACE.length));
      case "json-lines":
        return new JsonLinesConnection(socket, this.#host, firstBytes);
      case "http":
        this.#http.accept(socket, firstBytes);
        return this.#http;
    }
  }
}
