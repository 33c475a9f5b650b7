// One client's SMTP session. The proxy greets, answers EHLO/HELO and, when
// configured, STARTTLS itself; once it knows the routing key (the EHLO domain,
// or the domain of the first RCPT TO) it connects to the backend, replays the
// session's start there, and from then on relays bytes both ways. When the
// proxy shuts down, the session ends with a 421 at its next command boundary.
import type { Socket } from "node:net";
import { type ConnectionOptions, type SecureContext, TLSSocket } from "node:tls";
import { type BackendRouter, type ResolveContext, relay } from "../core/index.ts";
import { openBackend } from "../tcp/open-backend.ts";
import type { BackendConversation } from "./backend-conversation.ts";
import { type Hello, type StartedBackend, startBackendSession } from "./backend-session.ts";
import { parseCommand, parseHelloDomain, parseMailPath, SmtpSyntaxError } from "./command.ts";
import { type CommandLine, CommandLineReader } from "./command-line-reader.ts";
import { failureReply, type RoutingStage } from "./error-replies.ts";
import { localExtensions, relayedExtensions } from "./extensions.ts";
import { RelayedExchange } from "./relayed-exchange.ts";
import { formatReply, type SmtpReply } from "./reply.ts";

export interface SmtpSessionSettings {
  readonly router: BackendRouter;
  /** The name the proxy gives itself in its greeting and EHLO reply. */
  readonly hostname: string;
  readonly routeBy: "ehlo" | "recipient";
  /** Enables STARTTLS towards clients. */
  readonly secureContext: SecureContext | undefined;
  /** Enables STARTTLS towards backends. */
  readonly backendTls: ConnectionOptions | undefined;
  readonly maxLineLength: number;
  /** 0 for no limit of its own. */
  readonly maxMessageSize: number;
  readonly idleTimeoutMs: number;
  readonly relayIdleTimeoutMs: number;
  readonly backendTimeoutMs: number;
  /** How long a closed session waits for the client to close its side too. */
  readonly closeGraceMs: number;
}

type State = "command" | "busy" | "relay" | "closed";

export class SmtpSession {
  readonly #settings: SmtpSessionSettings;
  readonly #lines: CommandLineReader;
  #client: Socket;
  #state: State = "command";
  /** True while #answer runs, so that it never runs twice at once. */
  #answering = false;
  /** Set by shutDown(): the next command boundary ends the session with 421. */
  #shuttingDown = false;
  /** Once relayed: whether the session is between commands. */
  #exchange: RelayedExchange | undefined;
  #backend: Socket | undefined;
  #secure = false;
  /** Set once EHLO/HELO succeeded; cleared by STARTTLS. */
  #hello: Hello | undefined;
  /** MAIL FROM held until the first RCPT TO picks the backend (recipient routing). */
  #heldMail: Buffer | undefined;
  /** Aborted when the connection closes, TLS or not: a cold-start wait then ends. */
  readonly #closed = new AbortController();

  constructor(client: Socket, settings: SmtpSessionSettings) {
    this.#settings = settings;
    this.#lines = new CommandLineReader(settings.maxLineLength);
    this.#client = client;
    client.once("close", () => this.#closed.abort(new Error("the client closed the connection")));
    this.#listen(client);
    this.#send(220, `${settings.hostname} ESMTP Nexus`);
  }

  /** Closes the session's connections at once. */
  #destroy(): void {
    this.#state = "closed";
    this.#client.destroy();
  }

  /**
   * The proxy is shutting down: a session between commands gets 421 and is
   * closed now; one in the middle of a command, a message or a relayed
   * exchange, once that is done. A session whose relayed bytes the proxy
   * cannot follow is left to the drain deadline.
   */
  shutDown(): void {
    this.#shuttingDown = true;
    if (this.#state === "command") void this.#answer();
    else if (this.#state === "relay") this.#shutDownIfIdle();
  }

  readonly #onData = (chunk: Buffer) => {
    this.#lines.push(chunk);
    void this.#answer();
  };

  readonly #onTimeout = () => {
    // A client that does not read its replies would never get a last one;
    // one that never closes after its last reply must not hold the socket.
    const state = this.#state;
    if (state === "relay" || state === "closed" || this.#client.writableNeedDrain) {
      this.#client.destroy();
    } else this.#close(421, `4.4.2 ${this.#settings.hostname} Idle timeout, closing connection`);
  };

  #listen(client: Socket): void {
    client.on("data", this.#onData);
    client.on("error", () => client.destroy());
    client.on("close", () => {
      if (client === this.#client) this.#state = "closed";
    });
    // Not setTimeout's callback, which Node runs once: the grace after a
    // closing reply is measured by the same timer.
    client.on("timeout", this.#onTimeout);
    client.setTimeout(this.#settings.idleTimeoutMs);
  }

  /**
   * Answers the lines received so far, one at a time, in order. Reading stops
   * while replies wait for the client to take them, so a client that
   * pipelines without reading cannot make them pile up.
   */
  async #answer(): Promise<void> {
    if (this.#answering) return;
    this.#answering = true;
    this.#client.pause();
    try {
      while (this.#state === "command") {
        if (this.#client.writableNeedDrain) {
          await this.#repliesTaken();
          continue;
        }
        const line = this.#lines.next();
        // A whole line, or none begun: between commands.
        if (this.#shuttingDown && (line || !this.#lines.pending)) return this.#closeForShutdown();
        if (!line) break;
        await this.#execute(line);
      }
    } catch {
      this.#close(421, "4.3.0 Internal error, closing connection");
    } finally {
      this.#answering = false;
      if (this.#state === "command") this.#client.resume();
    }
  }

  /** Resolves once the client has taken the replies written so far, or is gone. */
  #repliesTaken(): Promise<void> {
    const client = this.#client;
    return new Promise((resolve) => {
      const done = () => {
        client.off("drain", done);
        client.off("close", done);
        resolve();
      };
      client.on("drain", done);
      client.on("close", done);
    });
  }

  async #execute(line: CommandLine): Promise<void> {
    if (line.kind === "too_long") return this.#send(500, "5.5.2 Line too long");
    const { verb, argument } = parseCommand(line.text);
    switch (verb) {
      case "EHLO":
      case "HELO":
        return this.#helloCommand(verb, argument);
      case "STARTTLS":
        return this.#startTls(argument);
      case "NOOP":
        return this.#send(250, "2.0.0 OK");
      case "RSET":
        this.#heldMail = undefined;
        return this.#send(250, "2.0.0 OK");
      case "QUIT":
        return this.#close(221, `2.0.0 ${this.#settings.hostname} closing connection`);
    }
    if (!this.#hello) return this.#send(503, "5.5.1 Send EHLO or HELO first");
    // Routing by EHLO waits here only while STARTTLS is still possible: any
    // other command means the client goes on without it.
    if (this.#settings.routeBy === "ehlo") return this.#connectByHello(this.#hello, line.raw);
    switch (verb) {
      case "MAIL":
        return this.#reply(this.#holdMail(argument, line.raw));
      case "RCPT":
        return this.#connectByRecipient(argument, line.raw);
      case "DATA":
      case "BDAT":
        return this.#send(503, `5.5.1 Send ${this.#heldMail ? "RCPT" : "MAIL"} first`);
      case "AUTH":
        return this.#send(502, "5.5.1 AUTH is not offered when mail is routed by recipient");
      case "":
        return this.#send(500, "5.5.2 Syntax error, command unrecognized");
      default:
        return this.#send(502, `5.5.1 ${verb} is not implemented`);
    }
  }

  async #helloCommand(verb: Hello["verb"], argument: string): Promise<void> {
    let domain: string;
    try {
      domain = parseHelloDomain(argument);
    } catch (error) {
      if (!(error instanceof SmtpSyntaxError)) throw error;
      return this.#send(501, `5.5.4 Syntax: ${verb} domain`);
    }
    // A new EHLO starts the session over (RFC 5321 §4.1.4).
    this.#hello = undefined;
    this.#heldMail = undefined;
    const hello: Hello = { verb, domain };
    if (this.#settings.routeBy === "recipient") {
      this.#hello = hello;
      return this.#reply(this.#localHelloReply(hello));
    }
    if (this.#canStartTls) {
      // Check the route now, so an unknown domain is refused at EHLO, but
      // connect only once the client has decided about STARTTLS.
      try {
        await this.#settings.router.route(domain, this.#context, { signal: this.#closed.signal });
      } catch (error) {
        return this.#fail(error, "hello", domain);
      }
      this.#hello = hello;
      return this.#reply(this.#localHelloReply(hello));
    }
    const started = await this.#connect(hello, domain, "hello");
    if (!started) return;
    this.#hello = hello;
    const greeting = `${this.#settings.hostname} Hello ${domain}`;
    this.#reply({
      code: 250,
      lines: verb === "HELO" ? [greeting] : [greeting, ...relayedExtensions(started.helloReply)],
    });
    this.#relay(started.conversation, Buffer.alloc(0));
  }

  async #connectByHello(hello: Hello, command: Buffer): Promise<void> {
    const started = await this.#connect(hello, hello.domain, "hello");
    if (started) this.#relay(started.conversation, command);
  }

  /** Accepts MAIL FROM on the backend's behalf and keeps it for the replay. */
  #holdMail(argument: string, command: Buffer): SmtpReply {
    if (this.#heldMail) return { code: 503, lines: ["5.5.1 Sender already given"] };
    let size: string | undefined;
    try {
      size = parseMailPath(argument, "FROM").parameters.get("SIZE");
    } catch (error) {
      if (!(error instanceof SmtpSyntaxError)) throw error;
      return { code: 501, lines: [`5.5.4 ${error.message}`] };
    }
    const limit = this.#settings.maxMessageSize;
    if (limit > 0 && size !== undefined && Number(size) > limit) {
      return { code: 552, lines: ["5.3.4 Message size exceeds fixed maximum message size"] };
    }
    this.#heldMail = command;
    return { code: 250, lines: ["2.1.0 OK"] };
  }

  async #connectByRecipient(argument: string, command: Buffer): Promise<void> {
    const mail = this.#heldMail;
    if (!mail) return this.#send(503, "5.5.1 Send MAIL first");
    let domain: string | undefined;
    try {
      domain = parseMailPath(argument, "TO").domain;
    } catch (error) {
      if (!(error instanceof SmtpSyntaxError)) throw error;
      return this.#send(501, `5.5.4 ${error.message}`);
    }
    if (domain === undefined) return this.#send(550, "5.1.3 A recipient domain is needed");
    const started = await this.#connect(this.#hello!, domain, "recipient");
    if (!started) return;
    let mailReply: SmtpReply;
    try {
      mailReply = await started.conversation.command(mail);
    } catch (error) {
      started.conversation.release().socket.destroy();
      return this.#fail(error, "recipient", domain);
    }
    this.#heldMail = undefined;
    if (mailReply.code === 250) return this.#relay(started.conversation, command);
    // The backend refused the sender the proxy had accepted: this RCPT gets
    // its refusal, and what the client sends next goes to the backend.
    this.#reply(mailReply);
    this.#relay(started.conversation, Buffer.alloc(0));
  }

  /** Connects to the backend for `key` and replays `hello`; undefined after a failure reply. */
  async #connect(
    hello: Hello,
    key: string,
    stage: RoutingStage,
  ): Promise<StartedBackend | undefined> {
    this.#state = "busy";
    try {
      const opened = await openBackend(this.#settings.router, key, this.#context, this.#client);
      if (!opened) return undefined;
      try {
        const started = await startBackendSession(opened.backend, opened.route.endpoint, hello, {
          timeoutMs: this.#settings.backendTimeoutMs,
          tls: this.#settings.backendTls,
        });
        if (this.#client.destroyed) {
          opened.backend.destroy();
          return undefined;
        }
        return started;
      } catch (error) {
        opened.backend.destroy();
        throw error;
      }
    } catch (error) {
      this.#fail(error, stage, key);
      return undefined;
    }
  }

  /** Answers a routing or backend failure; the session goes on unless the reply is 421. */
  #fail(error: unknown, stage: RoutingStage, key: string): void {
    if (this.#client.destroyed) return;
    const failure = failureReply(error, stage, key);
    if (failure.close) {
      this.#close(failure.reply.code, ...failure.reply.lines);
    } else {
      this.#state = "command";
      this.#reply(failure.reply);
    }
  }

  /**
   * Hands the session over to the backend: from here on, bytes are relayed,
   * and watched only to know when the session is between commands.
   */
  #relay(conversation: BackendConversation, command: Buffer): void {
    const { socket: backend, buffered } = conversation.release();
    const client = this.#client;
    const exchange = new RelayedExchange();
    this.#state = "relay";
    this.#exchange = exchange;
    this.#backend = backend;
    client.off("data", this.#onData);
    client.setTimeout(this.#settings.relayIdleTimeoutMs);
    const pending = Buffer.concat([command, this.#lines.takeRest()]);
    if (buffered.length > 0) client.write(buffered);
    if (pending.length > 0) backend.write(pending);
    exchange.fromBackend(buffered);
    exchange.fromClient(pending);
    void relay(client, backend);
    client.on("data", (chunk: Buffer) => exchange.fromClient(chunk));
    backend.on("data", (chunk: Buffer) => {
      exchange.fromBackend(chunk);
      if (this.#shuttingDown) this.#shutDownIfIdle();
    });
    if (this.#shuttingDown) this.#shutDownIfIdle();
  }

  /** Ends a relayed session that is between commands: 421 to the client, QUIT to the backend. */
  #shutDownIfIdle(): void {
    if (this.#state !== "relay" || !this.#exchange?.idle) return;
    this.#closeForShutdown();
    // The relay drops the backend's 221: the client has had its last reply.
    this.#backend?.end("QUIT\r\n");
  }

  #startTls(argument: string): void {
    const secureContext = this.#settings.secureContext;
    if (!secureContext || this.#secure || argument !== "") {
      if (!secureContext) this.#send(502, "5.5.1 STARTTLS is not offered");
      else if (this.#secure) this.#send(503, "5.5.1 TLS is already active");
      else this.#send(501, "5.5.4 Syntax: STARTTLS");
      return;
    }
    // CVE-2011-0411: whatever the client sent after STARTTLS in clear text
    // must not be read as if it came over TLS.
    this.#lines.takeRest();
    this.#send(220, "2.0.0 Ready to start TLS");
    const plain = this.#client;
    plain.off("data", this.#onData);
    plain.setTimeout(0);
    this.#state = "busy";
    const secure = new TLSSocket(plain, { isServer: true, secureContext });
    this.#client = secure;
    const handshakeTimeout = () => this.#destroy();
    secure.setTimeout(this.#settings.idleTimeoutMs, handshakeTimeout);
    secure.once("error", () => this.#destroy());
    secure.once("secure", () => {
      secure.off("timeout", handshakeTimeout);
      // RFC 3207: the session starts over; the client must send EHLO again.
      this.#secure = true;
      this.#hello = undefined;
      this.#heldMail = undefined;
      this.#state = "command";
      this.#listen(secure);
      if (this.#shuttingDown) void this.#answer();
    });
  }

  get #canStartTls(): boolean {
    return this.#settings.secureContext !== undefined && !this.#secure;
  }

  get #context(): ResolveContext {
    const servername = this.#client instanceof TLSSocket ? this.#client.servername : undefined;
    return {
      protocol: "smtp",
      clientAddress: this.#client.remoteAddress,
      ...(typeof servername === "string" ? { serverName: servername } : {}),
    };
  }

  #localHelloReply(hello: Hello): SmtpReply {
    const greeting = `${this.#settings.hostname} Hello ${hello.domain}`;
    if (hello.verb === "HELO") return { code: 250, lines: [greeting] };
    const extensions = localExtensions({
      maxMessageSize: this.#settings.maxMessageSize,
      startTls: this.#canStartTls,
    });
    return { code: 250, lines: [greeting, ...extensions] };
  }

  #send(code: number, text: string): void {
    this.#reply({ code, lines: [text] });
  }

  #reply(reply: SmtpReply): void {
    if (this.#state !== "closed") this.#client.write(formatReply(reply));
  }

  #closeForShutdown(): void {
    this.#close(421, `4.3.2 ${this.#settings.hostname} Service shutting down`);
  }

  /** Sends a last reply and closes the connection. */
  #close(code: number, ...lines: string[]): void {
    this.#reply({ code, lines });
    this.#state = "closed";
    const client = this.#client;
    client.end();
    // What the client still sends is dropped unread; reading on lets its end
    // arrive, which closes the connection.
    client.off("data", this.#onData);
    client.resume();
    client.setTimeout(this.#settings.closeGraceMs);
  }
}
