// One client connection, from its first byte to the relay: TLS and GSS
// negotiation, cancel requests, routing, the backend's startup exchange,
// then raw bytes both ways.
import { once } from "node:events";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import { type ConnectionOptions, type SecureContext, TLSSocket } from "node:tls";
import {
  type BackendRouter,
  type KernelSplice,
  type ResolveContext,
  type Route,
  relay,
  toResolverError,
} from "../core/index.ts";
import { BackendStartup } from "./backend-startup.ts";
import { startBackendTls } from "./backend-tls.ts";
import type { CancelForwarder } from "./cancel-forwarder.ts";
import type { BackendKey } from "./cancel-keys.ts";
import type { PostgresMetrics, StartupOutcome } from "./postgres-metrics.ts";
import { sqlStateForResolverError } from "./resolver-sql-state.ts";
import { type RouteBy, readRoutingKey } from "./routing-key.ts";
import { encodeFatalError, SqlStateError } from "./sql-state-error.ts";
import { encodeStartupMessage, parseStartupPacket, type StartupPacket } from "./startup-packet.ts";
import { StartupPacketReader } from "./startup-packet-reader.ts";

export interface SessionSettings {
  readonly router: BackendRouter;
  readonly routeBy: RouteBy;
  readonly secureContext: SecureContext | undefined;
  readonly cancels: CancelForwarder;
  readonly startupTimeoutMs: number;
  readonly metrics: PostgresMetrics;
  /** TLS towards TCP backends, when set. */
  readonly backendTls: ConnectionOptions | undefined;
  /** Relays plain sessions in the kernel, when set. */
  readonly splice: KernelSplice | undefined;
}

type StartupMessage = Extract<StartupPacket, { kind: "startup" }>;

const noop = () => {};
/** The first byte of a TLS ClientHello record; no startup packet starts with it. */
const TLS_HANDSHAKE_RECORD = 0x16;
/** Once one side of a relayed session is gone, how long the other may still flush. */
const CLOSE_GRACE_MS = 1000;
/** How long a refused client has to read its ErrorResponse. */
const REFUSAL_GRACE_MS = 5000;

export class ClientSession {
  readonly #socket: Socket;
  readonly #settings: SessionSettings;
  /** The stream the client speaks on: the socket, or TLS over it. */
  #client: Duplex;
  #tls: TLSSocket | undefined;
  #backend: Socket | undefined;
  #clientKey: BackendKey | undefined;
  #closed = false;
  /** Past the startup: relay() owns both sockets and closes the backend after its last bytes. */
  #relaying = false;
  /** How the startup ended, counted once in the metrics. */
  #outcome: StartupOutcome | undefined;
  /** Aborts a cold-start wait or a backend connection attempt when the client leaves first. */
  readonly #abort = new AbortController();

  constructor(socket: Socket, settings: SessionSettings) {
    this.#socket = socket;
    this.#settings = settings;
    this.#client = socket;
    socket.on("error", noop);
    socket.once("close", () => {
      if (!this.#relaying) this.close();
    });
  }

  /** Serves the connection until both sides are closed. Never rejects. */
  async run(): Promise<void> {
    const timer = setTimeout(() => this.close(), this.#settings.startupTimeoutMs);
    try {
      const startup = await this.#negotiate();
      clearTimeout(timer);
      if (startup) await this.#serve(startup.message, startup.rest);
    } catch (error) {
      if (error instanceof SqlStateError) this.refuse(error);
      else this.close();
    } finally {
      clearTimeout(timer);
      this.#settle("closed");
      if (this.#clientKey) this.#settings.cancels.keys.release(this.#clientKey);
    }
  }

  /** Counts how the startup ended; only the first outcome counts. */
  #settle(outcome: StartupOutcome): void {
    if (this.#outcome !== undefined) return;
    this.#outcome = outcome;
    this.#settings.metrics.startups.inc({ outcome });
  }

  /** Sends a FATAL ErrorResponse and closes the connection once it is written. */
  refuse(error: SqlStateError): void {
    if (this.#closed) return;
    this.#settle(error.sqlState);
    this.#backend?.destroy();
    this.#client.end(encodeFatalError(error), () => this.close());
    // A client that does not read its error must not hold the socket open.
    setTimeout(() => this.close(), REFUSAL_GRACE_MS).unref();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#abort.abort();
    this.#backend?.destroy();
    this.#tls?.destroy();
    this.#socket.destroy();
  }

  /**
   * Answers SSLRequest and GSSENCRequest (at most one of each, as the server
   * does), serves a CancelRequest, and returns the StartupMessage.
   */
  async #negotiate(): Promise<{ message: StartupMessage; rest: Buffer } | undefined> {
    let reader = new StartupPacketReader(this.#client);
    let sslDone = false;
    let gssDone = false;
    const { secureContext } = this.#settings;
    if (secureContext && (await reader.peek()) === TLS_HANDSHAKE_RECORD) {
      // PostgreSQL 17's direct TLS (sslnegotiation=direct): no SSLRequest first.
      await this.#startTls(secureContext, reader.release());
      reader = new StartupPacketReader(this.#client);
      sslDone = true;
    }
    for (;;) {
      const packet = parseStartupPacket(await reader.next());
      switch (packet.kind) {
        case "ssl": {
          if (sslDone) throw new SqlStateError("08P01", "SSL negotiation was already done");
          sslDone = true;
          if (!this.#settings.secureContext) {
            this.#client.write("N");
            break;
          }
          if (reader.buffered.length > 0) {
            throw new SqlStateError("08P01", "received unencrypted data after SSL request");
          }
          reader.release();
          this.#client.write("S");
          await this.#startTls(this.#settings.secureContext);
          reader = new StartupPacketReader(this.#client);
          break;
        }
        case "gssenc":
          if (gssDone || this.#tls) {
            throw new SqlStateError("08P01", "GSSAPI encryption negotiation was already done");
          }
          gssDone = true;
          this.#client.write("N");
          break;
        case "cancel":
          reader.release();
          await this.#cancel({ processId: packet.processId, secretKey: packet.secretKey });
          return undefined;
        case "startup":
          return { message: packet, rest: reader.release() };
      }
    }
  }

  /**
   * Terminates TLS; the client speaks through it from then on. `direct` holds
   * the bytes of a ClientHello already read (direct TLS), which must be
   * replayed and must ask for the ALPN protocol "postgresql", as the server
   * requires.
   */
  async #startTls(secureContext: SecureContext, direct?: Buffer): Promise<void> {
    let transport: Duplex = this.#socket;
    if (direct) {
      this.#socket.unshift(direct);
      // A plain stream over the socket, so TLS reads the replayed bytes too.
      transport = Duplex.from({ readable: this.#socket, writable: this.#socket });
    }
    const tls = new TLSSocket(transport, {
      isServer: true,
      secureContext,
      ALPNProtocols: direct ? ["postgresql"] : undefined,
    });
    this.#tls = tls;
    tls.on("error", noop);
    tls.once("close", () => {
      if (!this.#relaying) this.close();
    });
    const [failure] = await Promise.race([
      once(tls, "secure").then(() => [undefined]),
      once(tls, "close").then(() => [new Error("closed during the TLS handshake")]),
    ]);
    if (failure) throw failure;
    this.#client = tls;
    if (direct && tls.alpnProtocol !== "postgresql") {
      throw new SqlStateError(
        "08P01",
        "received direct SSL connection request without ALPN protocol negotiation extension",
      );
    }
  }

  /** Hands a CancelRequest on, then hangs up without an answer, as the server does. */
  async #cancel(clientKey: BackendKey): Promise<void> {
    this.#settle("cancel_request");
    await this.#settings.cancels.cancel(clientKey, true);
    this.#client.end(() => this.close());
  }

  async #serve(message: StartupMessage, rest: Buffer): Promise<void> {
    const { router, routeBy, cancels } = this.#settings;
    const serverName = this.#tls?.servername || undefined;
    const decision = readRoutingKey(routeBy, message.parameters, serverName);
    const context: ResolveContext = {
      protocol: "postgres",
      clientAddress: this.#socket.remoteAddress,
      serverName,
    };
    let route: Route;
    let backend: Socket;
    try {
      const { signal } = this.#abort;
      route = await router.route(decision.subject.value, context, { signal });
      // A backend wrapped in TLS is read by the TLS layer: a direct-read buffer would go unused.
      const wrapped = Boolean(this.#settings.backendTls) && route.endpoint.kind === "tcp";
      backend = await router.connect(route, context, { signal, directReads: !wrapped });
    } catch (error) {
      throw sqlStateForResolverError(toResolverError(error), decision.subject);
    }
    backend.on("error", noop);
    this.#backend = backend;
    if (this.#closed) {
      backend.destroy();
      return;
    }
    const { backendTls } = this.#settings;
    if (backendTls && route.endpoint.kind === "tcp") {
      const server = `the server for ${decision.subject.kind} "${decision.subject.value}"`;
      const { startupTimeoutMs } = this.#settings;
      backend = await startBackendTls(
        backend,
        route.endpoint,
        backendTls,
        server,
        startupTimeoutMs,
      );
      this.#backend = backend;
    }
    const backendDatabase = route.result.metadata?.database;
    if (typeof backendDatabase === "string") decision.parameters.set("database", backendDatabase);
    backend.write(encodeStartupMessage(message.major, message.minor, decision.parameters));
    if (rest.length > 0) backend.write(rest);

    const startup = new BackendStartup((backendKey) => {
      // Kept at once, so that run() releases it even if the startup then fails.
      if (this.#clientKey) cancels.keys.release(this.#clientKey);
      this.#clientKey = cancels.keys.issue(backendKey, { route, context });
      return this.#clientKey;
    });
    const readyForQuery = await this.#exchangeStartup(backend, startup);
    if (startup.endedWith === "ready") this.#settle("ready");
    else if (startup.endedWith === "error") this.#settle("backend_error");
    // relay() waits for both sides to close: it must not start on a closed one.
    if (this.#closed || backend.destroyed || this.#client.destroyed) {
      if (readyForQuery !== undefined && this.#client.writable) this.#client.write(readyForQuery);
      this.close();
      return;
    }
    const { splice, metrics } = this.#settings;
    this.#relaying = true;
    // Clients do not half-close: once one side is gone the other only gets a
    // moment to flush, so a client cut at the drain deadline does not leave
    // its backend connection open while a long query runs.
    const totals = await relay(this.#client, backend, {
      splice,
      thenToClient: readyForQuery,
      graceMs: CLOSE_GRACE_MS,
    });
    metrics.relayedSessions.inc({ mover: totals.mover });
  }

  /**
   * Until the backend is ready, client bytes (passwords, SASL) go to it as
   * they come and backend messages are read one by one. Resolves with the
   * bytes that end a successful startup (ReadyForQuery), held back for
   * relay(): the client sends nothing before it has them.
   */
  #exchangeStartup(backend: Socket, startup: BackendStartup): Promise<Buffer | undefined> {
    const client = this.#client;
    return new Promise((resolve, reject) => {
      const toBackend = (chunk: Buffer) => backend.write(chunk);
      const toClient = (chunk: Buffer) => {
        let progress: ReturnType<BackendStartup["push"]>;
        try {
          progress = startup.push(chunk);
        } catch (error) {
          stop();
          reject(error);
          return;
        }
        if (!progress.finished || startup.endedWith !== "ready") {
          for (const piece of progress.forward) client.write(piece);
          if (!progress.finished) return;
        }
        stop();
        resolve(startup.endedWith === "ready" ? Buffer.concat(progress.forward) : undefined);
      };
      const closed = () => {
        stop();
        resolve(undefined);
      };
      const stop = () => {
        client.off("data", toBackend);
        backend.off("data", toClient);
        backend.off("close", closed);
        client.pause();
        backend.pause();
      };
      client.on("data", toBackend);
      backend.on("data", toClient);
      backend.once("close", closed);
      client.resume();
    });
  }
}
