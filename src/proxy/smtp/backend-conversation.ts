// Talks to a backend SMTP server one reply at a time while the proxy replays
// the start of a session (greeting, STARTTLS, EHLO, MAIL), then lets go of
// the socket so that bytes can be relayed untouched.
import type { Socket } from "node:net";
import { type ConnectionOptions, connect as tlsConnect } from "node:tls";
import { BackendSmtpError } from "./error-replies.ts";
import { ReplyReader, type SmtpReply, SmtpReplyError } from "./reply.ts";

export class BackendConversation {
  readonly #timeoutMs: number;
  #socket: Socket;
  #reader = new ReplyReader();
  #replies: SmtpReply[] = [];
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(socket: Socket, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#socket = socket;
    this.#attach(socket);
  }

  /** The next reply from the backend. Rejects with BackendSmtpError. */
  async read(): Promise<SmtpReply> {
    const deadline = Date.now() + this.#timeoutMs;
    for (;;) {
      const reply = this.#replies.shift();
      if (reply) return reply;
      if (this.#failure) throw this.#failure;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new BackendSmtpError(`backend did not answer within ${this.#timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Sends one command line (with or without its CRLF) and reads the reply. */
  command(line: string | Buffer): Promise<SmtpReply> {
    this.#socket.write(typeof line === "string" ? `${line}\r\n` : line);
    return this.read();
  }

  /**
   * Asks the backend for STARTTLS and continues over TLS (RFC 3207). The
   * caller sends a fresh EHLO afterwards.
   */
  async startTls(options: ConnectionOptions): Promise<void> {
    const reply = await this.command("STARTTLS");
    if (reply.code !== 220) throw refused("STARTTLS", reply);
    const plain = this.#detach();
    const secure = tlsConnect({ ...options, socket: plain });
    await new Promise<void>((resolve, reject) => {
      // A backend that never finishes the handshake is given up like one
      // that does not answer; destroying the socket closes the connection.
      const timer = setTimeout(() => {
        secure.destroy();
        reject(new BackendSmtpError(`TLS to the backend took over ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once("error", (error) => {
        clearTimeout(timer);
        reject(new BackendSmtpError("TLS to the backend failed", { cause: error }));
      });
    });
    this.#socket = secure;
    this.#attach(secure);
  }

  /** Stops reading replies; returns the socket and any bytes received past the last reply. */
  release(): { socket: Socket; buffered: Buffer } {
    const socket = this.#detach();
    socket.pause();
    return { socket, buffered: this.#reader.buffered };
  }

  readonly #onData = (chunk: Buffer) => {
    try {
      this.#replies.push(...this.#reader.push(chunk));
    } catch (error) {
      const why = error instanceof SmtpReplyError ? error.message : "unreadable reply";
      this.#fail(new BackendSmtpError(`backend broke SMTP: ${why}`, { cause: error }));
    }
    this.#wake?.();
  };

  readonly #onError = (error: Error) => {
    this.#fail(new BackendSmtpError("backend connection failed", { cause: error }));
  };

  readonly #onClose = () => {
    this.#fail(new BackendSmtpError("backend closed the connection"));
  };

  #fail(error: Error): void {
    this.#failure ??= error;
    this.#wake?.();
  }

  #attach(socket: Socket): void {
    socket.on("data", this.#onData);
    socket.on("error", this.#onError);
    socket.on("close", this.#onClose);
  }

  #detach(): Socket {
    const socket = this.#socket;
    socket.off("data", this.#onData);
    socket.off("error", this.#onError);
    socket.off("close", this.#onClose);
    return socket;
  }
}

/** The error for a backend that answered `command` with something other than success. */
export function refused(command: string, reply: SmtpReply): BackendSmtpError {
  return new BackendSmtpError(`backend answered ${command} with ${reply.code} ${reply.lines[0]}`);
}
