// A line-level SMTP client for the cases real clients will not produce:
// out-of-order commands, pipelined injection, over-long lines, silence.
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { ReplyReader, type SmtpReply } from "../../src/proxy/smtp/index.ts";

export class RawSmtpClient {
  #socket: Socket;
  #reader = new ReplyReader();
  #replies: SmtpReply[] = [];
  #waiters: (() => void)[] = [];
  #closed = false;
  readonly #closedPromise: Promise<void>;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.#attach(socket);
    this.#closedPromise = once(socket, "close").then(() => undefined);
  }

  static async connect(port: number): Promise<RawSmtpClient> {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    await once(socket, "connect");
    return new RawSmtpClient(socket);
  }

  /** The next reply; rejects when the server closed without one. */
  async read(): Promise<SmtpReply> {
    for (;;) {
      const reply = this.#replies.shift();
      if (reply) return reply;
      if (this.#closed) throw new Error("the server closed the connection");
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Sends one command line and reads its reply. */
  send(line: string): Promise<SmtpReply> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  write(text: string | Buffer): void {
    this.#socket.write(text);
  }

  /** Starts TLS over the connection (after the server's 220 to STARTTLS). */
  async startTls(ca: string, servername: string): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners("data");
    const secure = tlsConnect({ socket: plain, ca, servername });
    secure.on("error", () => {});
    await once(secure, "secureConnect");
    this.#socket = secure;
    this.#attach(secure);
  }

  /** Resolves when the server has closed the connection. */
  closed(): Promise<void> {
    return this.#closedPromise;
  }

  /** Ends the client's side; replies can still arrive. */
  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #attach(socket: Socket): void {
    socket.on("data", (chunk: Buffer) => {
      this.#replies.push(...this.#reader.push(chunk));
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
