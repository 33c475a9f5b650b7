// The SMTP proxy: accepts mail sessions, routes each by its EHLO domain (the
// default) or by the domain of its first recipient, and relays it to the
// backend that serves that domain. See docs/smtp.md.
import type { AddressInfo, Socket } from "node:net";
import { hostname as osHostname } from "node:os";
import { type ConnectionOptions, createSecureContext, type SecureContextOptions } from "node:tls";
import type { BackendRouter } from "../core/index.ts";
import { ConnectionListener } from "../tcp/connection-listener.ts";
import { formatReply } from "./reply.ts";
import { SmtpSession, type SmtpSessionSettings } from "./smtp-session.ts";

export interface SmtpProxyOptions {
  readonly router: BackendRouter;
  /** "ehlo" routes by the EHLO/HELO domain (default); "recipient" by the first RCPT TO domain. */
  readonly routeBy?: "ehlo" | "recipient";
  /** The proxy's name in its greeting and EHLO reply (default: the host name). */
  readonly hostname?: string;
  /** Certificate and key: offers STARTTLS to clients. */
  readonly tls?: SecureContextOptions;
  /** Uses STARTTLS towards backends: true, or options for tls.connect (ca, servername …). */
  readonly backendTls?: boolean | ConnectionOptions;
  /** Open client connections allowed at once; beyond it clients get 421 (default: no limit). */
  readonly maxConnections?: number;
  /** Longest command line accepted, in bytes with CRLF (default 1000); longer gets 500. */
  readonly maxLineLength?: number;
  /** Announced with SIZE before a backend is chosen and enforced on MAIL FROM SIZE= (default: none). */
  readonly maxMessageSize?: number;
  /** Idle time allowed between commands (default 5 min, RFC 5321 §4.5.3.2.7). */
  readonly idleTimeoutMs?: number;
  /** Idle time allowed once relaying, DATA included (default 10 min, RFC 5321 §4.5.3.2.6). */
  readonly relayIdleTimeoutMs?: number;
  /** Time each backend reply may take while the session is replayed (default 30 s). */
  readonly backendTimeoutMs?: number;
}

/** Longest a client may keep a closed or refused connection open after its last reply. */
const CLOSE_GRACE_MS = 5000;

export class SmtpProxy {
  readonly #settings: SmtpSessionSettings;
  readonly #listener: ConnectionListener;
  readonly #sessions = new Set<SmtpSession>();

  constructor(options: SmtpProxyOptions) {
    const hostname = options.hostname ?? osHostname();
    const idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
    // Never longer than the silence a live session is allowed (0: no limit).
    const closeGraceMs =
      idleTimeoutMs > 0 ? Math.min(CLOSE_GRACE_MS, idleTimeoutMs) : CLOSE_GRACE_MS;
    this.#settings = {
      router: options.router,
      hostname,
      routeBy: options.routeBy ?? "ehlo",
      secureContext: options.tls ? createSecureContext(options.tls) : undefined,
      backendTls: options.backendTls === true ? {} : options.backendTls || undefined,
      maxLineLength: options.maxLineLength ?? 1000,
      maxMessageSize: options.maxMessageSize ?? 0,
      idleTimeoutMs,
      relayIdleTimeoutMs: options.relayIdleTimeoutMs ?? 10 * 60_000,
      backendTimeoutMs: options.backendTimeoutMs ?? 30_000,
      closeGraceMs,
    };
    const tooMany = formatReply({
      code: 421,
      lines: [`4.3.2 ${hostname} Too many connections, try again later`],
    });
    this.#listener = new ConnectionListener({
      onConnection: (socket) => this.#open(socket),
      maxConnections: options.maxConnections,
      onRefused: (socket) => {
        socket.end(tooMany);
        socket.setTimeout(closeGraceMs, () => socket.destroy());
      },
    });
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  listen(port: number, host?: string): Promise<AddressInfo> {
    return this.#listener.listen(port, host);
  }

  /**
   * Stops accepting; sessions between commands get `421 4.3.2` and are
   * closed at once, the others at their next command boundary. Those still
   * open after `timeoutMs` are cut.
   */
  close(timeoutMs?: number): Promise<void> {
    const closed = this.#listener.close(timeoutMs);
    for (const session of this.#sessions) session.shutDown();
    return closed;
  }

  #open(socket: Socket): void {
    const session = new SmtpSession(socket, this.#settings);
    this.#sessions.add(session);
    socket.once("close", () => this.#sessions.delete(session));
  }
}
