// One client connection, from the proxy's greeting to the raw relay:
//
//   greeting → [SSLRequest → TLS] → HandshakeResponse41 → route by database
//   → backend greeting → AuthSwitchRequest(backend scramble) → client answer
//   → rebuilt HandshakeResponse41 to the backend → relayed auth → OK → relay
//
// Every failure ends in an ERR packet the client can show, then a close.
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { type SecureContext, TLSSocket } from "node:tls";
import {
  type BackendRouter,
  type KernelSplice,
  type ResolveContext,
  ResolverError,
  type Route,
  relay,
} from "../core/index.ts";
import { type AuthOutcome, encodeAuthSwitchRequest, relayAuthentication } from "./auth-relay.ts";
import {
  CLIENT_COMPRESS,
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
  missingCapabilities,
  PROXY_CAPABILITIES,
} from "./capabilities.ts";
import { CleartextGuard } from "./cleartext-guard.ts";
import type { ConnectionIds } from "./connection-ids.ts";
import { ERR_HEADER, encodeErr, type ServerError } from "./err-packet.ts";
import { encodeGreeting, type Greeting, parseGreeting } from "./greeting.ts";
import {
  encodeHandshakeResponse,
  type HandshakeResponse,
  isSslRequest,
  parseHandshakeResponse,
  readClientCapabilities,
} from "./handshake-response.ts";
import { KillTranslator } from "./kill-translator.ts";
import { MalformedPacketError } from "./malformed-packet-error.ts";
import type { MysqlMetrics } from "./mysql-metrics.ts";
import { encodePacket, nextSequence, type Packet } from "./packet.ts";
import { ChannelClosedError, PacketChannel } from "./packet-channel.ts";
import { routeError, serverErrors } from "./server-errors.ts";

export interface SessionSettings {
  readonly router: BackendRouter;
  readonly metrics: MysqlMetrics;
  readonly connectionIds: ConnectionIds;
  /** Set when the proxy terminates TLS for clients that ask for it. */
  readonly tls: SecureContext | undefined;
  readonly requireTls: boolean;
  readonly defaultRoute: string | undefined;
  readonly serverVersion: string;
  readonly handshakeTimeoutMs: number;
  /** Moves the backend's bytes in the kernel, when set. */
  readonly splice: KernelSplice | undefined;
}

/** Handshake packets from clients are small; anything larger is refused. */
const MAX_CLIENT_HANDSHAKE_PACKET = 64 * 1024;
const MAX_BACKEND_HANDSHAKE_PACKET = 1024 * 1024;
const UTF8MB4_GENERAL_CI = 45;
const SERVER_STATUS_AUTOCOMMIT = 0x2;
const PLUGINS_NEEDED = CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH;
/** Once one side of a relayed session is gone, how long the other may still flush. */
const CLOSE_GRACE_MS = 1000;

/** Thrown inside the handshake to end it with an ERR packet to the client. */
class Refusal extends Error {
  /** The ERR packet's payload. */
  readonly payload: Buffer;
  constructor(error: ServerError | Buffer) {
    super("refused");
    this.payload = Buffer.isBuffer(error) ? error : encodeErr(error);
  }
}

export class MysqlSession {
  readonly connectionId: number;
  readonly #settings: SessionSettings;
  readonly #socket: Socket;
  #client: PacketChannel;
  #backend: PacketChannel | undefined;
  /** The last sequence id used on the client connection, either way. */
  #clientSequence = 0;
  #relaying = false;
  #closed = false;
  /** Aborts a cold-start wait or a backend connection attempt when the client leaves. */
  readonly #abort = new AbortController();

  constructor(socket: Socket, connectionId: number, settings: SessionSettings) {
    this.#socket = socket;
    this.connectionId = connectionId;
    this.#settings = settings;
    this.#client = new PacketChannel(socket, MAX_CLIENT_HANDSHAKE_PACKET);
    // Errors end the session through "close"; a listener keeps them from
    // being thrown while no stream is attached.
    socket.on("error", () => {});
    socket.once("close", () => {
      this.#abort.abort();
      // The handshake stops at once; the relay, once started, ends the backend itself.
      if (!this.#relaying) this.#backend?.socket.destroy();
    });
  }

  /** Serves the connection until it closes. Never rejects. */
  async run(): Promise<void> {
    const timer = setTimeout(
      () => this.#refuse(new Refusal(serverErrors.timeout())),
      this.#settings.handshakeTimeoutMs,
    );
    try {
      await this.#handshake();
    } catch (error) {
      this.#refuse(error);
    } finally {
      clearTimeout(timer);
    }
  }

  async #handshake(): Promise<void> {
    const scramble = printableScramble();
    const capabilities = PROXY_CAPABILITIES | (this.#settings.tls ? CLIENT_SSL : 0);
    this.#client.write(
      0,
      encodeGreeting({
        serverVersion: this.#settings.serverVersion,
        connectionId: this.connectionId,
        scramble,
        capabilities,
        characterSet: UTF8MB4_GENERAL_CI,
        statusFlags: SERVER_STATUS_AUTOCOMMIT,
        authPlugin: "mysql_native_password",
      }),
    );
    let packet = await this.#readClient();
    if ((readClientCapabilities(packet.payload) & PLUGINS_NEEDED) !== PLUGINS_NEEDED) {
      throw new Refusal(serverErrors.unsupportedClient());
    }
    let serverName: string | undefined;
    const clientOnTls = isSslRequest(packet.payload);
    if (clientOnTls) {
      const tlsSocket = this.#startTls();
      packet = await this.#readClient();
      // The SNI name is known once the TLS handshake is done.
      const { servername } = tlsSocket as TLSSocket & { servername?: string | false };
      if (typeof servername === "string") serverName = servername;
    } else if (this.#settings.requireTls) {
      throw new Refusal(serverErrors.tlsRequired());
    }
    const response = parseHandshakeResponse(packet.payload);
    const database = response.database?.toString("utf8") || undefined;
    const key = database ?? this.#settings.defaultRoute;
    if (key === undefined) throw new Refusal(serverErrors.noDatabase());

    const context: ResolveContext = {
      protocol: "mysql",
      clientAddress: this.#socket.remoteAddress,
      serverName,
    };
    const { route, backendSocket } = await this.#connect(key, context);
    backendSocket.on("error", () => {});
    if (this.#closed) {
      backendSocket.destroy();
      return;
    }
    this.#backend = new PacketChannel(backendSocket, MAX_BACKEND_HANDSHAKE_PACKET);
    const backendGreeting = await this.#readBackendGreeting();
    const missing = missingCapabilities(
      response.capabilities & capabilities,
      backendGreeting.capabilities,
    );
    if (missing.length > 0) throw new Refusal(serverErrors.backendLacks(missing));

    // Have the client answer the backend's scramble instead of ours.
    const authSwitch = encodeAuthSwitchRequest(backendGreeting);
    const guard = new CleartextGuard(clientOnTls);
    const refusal = guard.inspect(authSwitch);
    if (refusal) throw new Refusal(refusal);
    this.#writeClient(authSwitch);
    const answer = await this.#readClient();
    this.#backend.write(1, encodeHandshakeResponse(forBackend(response, answer, backendGreeting)));
    // The backend's next packet is 2; the client's is one past its answer.
    const offset = nextSequence(answer.sequence, -1);
    const result = await relayAuthentication(this.#client, this.#backend, offset, guard);
    this.#settings.metrics.handshakes.inc({ outcome: handshakeOutcomes[result.outcome] });
    if (result.outcome !== "ok") {
      this.#closeAll();
      return;
    }
    this.#settings.connectionIds.register(this.connectionId, {
      backendThreadId: backendGreeting.connectionId,
      route,
    });
    this.#startRelay(route, backendSocket, result.ok);
  }

  #writeClient(payload: Buffer): void {
    this.#clientSequence = nextSequence(this.#clientSequence);
    this.#client.write(this.#clientSequence, payload);
  }

  async #readClient(): Promise<Packet> {
    const packet = await this.#client.read();
    if (!packet) throw new ChannelClosedError();
    if (packet.sequence !== nextSequence(this.#clientSequence)) {
      throw new MalformedPacketError(
        `expected sequence id ${nextSequence(this.#clientSequence)}, got ${packet.sequence}`,
      );
    }
    this.#clientSequence = packet.sequence;
    return packet;
  }

  /** Answers an SSLRequest: the rest of the handshake runs over TLS. */
  #startTls(): TLSSocket {
    const secureContext = this.#settings.tls;
    if (!secureContext) throw new MalformedPacketError("TLS was requested but not offered");
    // Clients often send their TLS ClientHello right behind the SSLRequest:
    // hand those bytes back to the socket, where the TLS layer reads them.
    const handshakeStart = this.#client.release();
    if (handshakeStart.length > 0) this.#socket.unshift(handshakeStart);
    const tlsSocket = new TLSSocket(this.#socket, { isServer: true, secureContext });
    tlsSocket.on("error", () => {});
    this.#client = new PacketChannel(tlsSocket, MAX_CLIENT_HANDSHAKE_PACKET);
    return tlsSocket;
  }

  /** Routes `key` and connects to its backend; routing failures become ERR packets. */
  async #connect(
    key: string,
    context: ResolveContext,
  ): Promise<{ route: Route; backendSocket: Socket }> {
    try {
      const { router } = this.#settings;
      const { signal } = this.#abort;
      const route = await router.route(key, context, { signal });
      return {
        route,
        backendSocket: await router.connect(route, context, { signal, directReads: true }),
      };
    } catch (error) {
      if (error instanceof ResolverError) throw new Refusal(routeError(error, key));
      throw error;
    }
  }

  async #readBackendGreeting(): Promise<Greeting> {
    const packet = await this.#backend!.read();
    if (!packet) throw new ChannelClosedError();
    if (packet.payload[0] === ERR_HEADER) {
      // The backend refused the connection outright (too many connections,
      // host blocked): the client sees the backend's own error.
      throw new Refusal(packet.payload);
    }
    return parseGreeting(packet.payload);
  }

  /**
   * Authenticated: from here bytes flow unparsed, except that KILL
   * statements are translated to backend thread ids on their way. Both
   * directions may go through the kernel, which hands the client's bytes
   * back to the translator at the first chunk that may hold a KILL.
   */
  #startRelay(route: Route, backend: Socket, ok: Buffer): void {
    const client = this.#client.socket;
    const fromClient = this.#client.release();
    // The backend's OK, held back so far, goes first.
    const toClient = Buffer.concat([ok, this.#backend!.release()]);
    const ids = this.#settings.connectionIds;
    const translator = new KillTranslator(ids, route);
    const { translate } = translator;
    const early = translate(fromClient);
    if (early.length > 0) backend.write(early);
    this.#relaying = true;
    // MySQL never half-closes: once one side is gone the other only gets a
    // moment to flush, so a client cut at the drain deadline does not leave
    // its backend connection open while a long query runs.
    void relay(client, backend, {
      rewriteToBackend: translate,
      commandWatch: translator,
      graceMs: CLOSE_GRACE_MS,
      splice: this.#settings.splice,
      thenToClient: toClient,
    }).then((totals) => {
      ids.unregister(this.connectionId);
      this.#settings.metrics.relayedSessions.inc({ mover: totals.mover });
    });
  }

  /** Sends an ERR packet to the client if it is still there, then closes both sides. */
  #refuse(error: unknown): void {
    if (this.#relaying || this.#closed) return;
    const socket = this.#client.socket;
    if (socket.writable) {
      const payload = errPayload(error);
      socket.end(encodePacket(nextSequence(this.#clientSequence), payload));
      this.#settings.metrics.handshakes.inc({ outcome: String(payload.readUInt16LE(1)) });
    } else {
      this.#settings.metrics.handshakes.inc({ outcome: "closed" });
    }
    this.#closeAll();
  }

  #closeAll(): void {
    this.#closed = true;
    this.#backend?.socket.destroy();
    const socket = this.#client.socket;
    if (socket.writableFinished || socket.destroyed) {
      socket.destroy();
      return;
    }
    // End rather than destroy, so that a last ERR packet is delivered; a
    // client that does not read it is cut off after a second.
    socket.once("finish", () => socket.destroy());
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

/** How each end of the authentication relay is counted. */
const handshakeOutcomes: Record<AuthOutcome, string> = {
  ok: "authenticated",
  denied: "denied",
  cleartext_refused: "1251",
};

/** The ERR payload for whatever ended a handshake. */
function errPayload(error: unknown): Buffer {
  if (error instanceof Refusal) return error.payload;
  if (error instanceof ResolverError) return encodeErr(routeError(error, ""));
  if (error instanceof MalformedPacketError)
    return encodeErr(serverErrors.badHandshake(error.message));
  if (error instanceof ChannelClosedError) {
    return encodeErr(serverErrors.backendLost("the connection closed"));
  }
  return encodeErr(serverErrors.badHandshake("unexpected failure"));
}

/** A 20-byte nonce of printable bytes, as MySQL servers make: no NUL in it. */
function printableScramble(): Buffer {
  const bytes = randomBytes(20);
  for (let i = 0; i < bytes.length; i++) bytes[i] = 0x21 + (bytes[i]! % 94);
  return bytes;
}

/**
 * The client's handshake response as the backend must receive it: the
 * client's own flags, less TLS and compression (the backend leg is plain)
 * and anything the backend cannot parse, carrying the answer to the
 * backend's scramble under the backend's plugin.
 */
function forBackend(
  response: HandshakeResponse,
  answer: Packet,
  backend: Greeting,
): HandshakeResponse {
  let capabilities =
    (response.capabilities & ~(CLIENT_SSL | CLIENT_COMPRESS)) |
    CLIENT_PROTOCOL_41 |
    CLIENT_SECURE_CONNECTION |
    CLIENT_PLUGIN_AUTH;
  for (const optional of [CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, CLIENT_CONNECT_ATTRS]) {
    if (!(backend.capabilities & optional)) capabilities &= ~optional;
  }
  const hasDatabase = response.database !== undefined && response.database.length > 0;
  capabilities = hasDatabase
    ? capabilities | CLIENT_CONNECT_WITH_DB
    : capabilities & ~CLIENT_CONNECT_WITH_DB;
  return {
    ...response,
    capabilities: capabilities >>> 0,
    authResponse: answer.payload,
    authPlugin: backend.authPlugin,
  };
}
