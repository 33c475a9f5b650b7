// The server side of one JSON-lines connection. Each message is an object
//   {"path":"/user","method":"GET","auth_token":"…","data":{…},"id":…,"timeout_ms":…}
// answered by one line, in request order:
//   {"id":…,"data":…}   or   {"id":…,"error":{"code":…,"message":…}}
import type { Socket } from "node:net";
import { AuthFailures } from "../security/auth-failures.ts";
import { Call } from "../service/call.ts";
import { ServiceError } from "../service/errors.ts";
import { JsonMessageSplitter, LineTooLongError } from "../wire/json-lines.ts";
import type { ConnectionHost, DialectConnection } from "./connection-host.ts";
import { whenStillSilent } from "./silence.ts";

/** One request's place in the reply order. */
interface ReplySlot {
  line: string | undefined;
}

export class JsonLinesConnection implements DialectConnection {
  readonly #socket: Socket;
  readonly #host: ConnectionHost;
  readonly #splitter: JsonMessageSplitter;
  readonly #authFailures: AuthFailures;
  readonly #replies: ReplySlot[] = [];
  readonly #calls = new Set<Call>();
  #draining = false;
  #closing = false;
  #flushQueued = false;

  constructor(socket: Socket, host: ConnectionHost, firstBytes: Buffer) {
    this.#socket = socket;
    this.#host = host;
    this.#splitter = new JsonMessageSplitter(host.limits.maxMessageBytes);
    this.#authFailures = new AuthFailures(host.limits.maxAuthFailures);
    socket.setTimeout(host.limits.idleTimeoutMs);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("close", () => this.#onClose());
    socket.on("end", () => this.#onEnd());
    socket.on("drain", () => this.#pace());
    socket.on("timeout", () =>
      whenStillSilent(socket, () => {
        // Replies unread for that long: the client is gone or not listening.
        if (socket.writableNeedDrain) socket.destroy();
        else if (this.#replies.length === 0) this.#close();
      }),
    );
    this.#receive(firstBytes);
  }

  drain(): void {
    this.#draining = true;
    if (this.#replies.length === 0) this.#close();
  }

  #receive(chunk: Buffer): void {
    if (this.#closing) return;
    try {
      this.#splitter.push(chunk, this.#onMessage);
    } catch (error) {
      if (!(error instanceof LineTooLongError)) throw error;
      // The rest of an oversize line cannot be told from the next request: answer and close.
      this.#replies.push({
        line: errorLine(undefined, new ServiceError("PAYLOAD_TOO_LARGE", error.message)),
      });
      this.#flush();
      this.#close();
      return;
    }
    this.#pace();
  }

  /**
   * Reads on only while replies leave: a client that does not read its
   * answers, or waits on more than maxInFlight of them, is not read either.
   */
  #pace(): void {
    const backedUp =
      this.#socket.writableNeedDrain || this.#replies.length >= this.#host.limits.maxInFlight;
    if (backedUp) this.#socket.pause();
    else this.#socket.resume();
  }

  readonly #onMessage = (message: Buffer): void => {
    if (this.#closing) return;
    const slot: ReplySlot = { line: undefined };
    this.#replies.push(slot);
    let parsed: unknown;
    try {
      parsed = JSON.parse(message.toString("utf8"));
    } catch {
      this.#answer(
        slot,
        errorLine(undefined, new ServiceError("BAD_REQUEST", "the line is not valid JSON")),
      );
      return;
    }
    const request = readRequest(parsed);
    if (request instanceof ServiceError) {
      this.#answer(slot, errorLine(idOf(parsed), request));
      return;
    }
    const { maxInFlight } = this.#host.limits;
    if (this.#calls.size >= maxInFlight) {
      const message = `more than ${maxInFlight} requests in flight on one connection`;
      this.#answer(slot, errorLine(request.id, new ServiceError("TOO_MANY_REQUESTS", message)));
      return;
    }
    void this.#serve(slot, request);
  };

  async #serve(slot: ReplySlot, request: LineRequest): Promise<void> {
    const { stats, runtime, tokenCheck } = this.#host;
    const call = new Call({
      method: request.method,
      path: request.path,
      data: request.data,
      timeoutMs: request.timeoutMs,
      caller: { dialect: "json-lines", authenticated: tokenCheck.matches(request.token) },
    });
    this.#calls.add(call);
    const started = stats.begin();
    let line: string;
    let failure: ServiceError | undefined;
    try {
      line = successLine(request.id, await runtime.dispatch(call));
    } catch (error) {
      failure = error instanceof ServiceError ? error : this.#unencodable(error);
      line = errorLine(request.id, failure);
    }
    this.#calls.delete(call);
    stats.end(call, started, failure?.code);
    this.#answer(slot, line);
    if (failure?.code === "UNAUTHORIZED" && this.#authFailures.record()) this.#close();
  }

  #unencodable(error: unknown): ServiceError {
    this.#host.log.error({ err: error }, "the handler's result cannot be encoded as JSON");
    return new ServiceError("INTERNAL", "internal error");
  }

  /** Replies ready in one tick leave in one write. */
  #answer(slot: ReplySlot, line: string): void {
    slot.line = line;
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    process.nextTick(flushReplies, this);
  }

  flushReplies(): void {
    this.#flushQueued = false;
    this.#flush();
    this.#pace();
    if ((this.#draining || this.#closing) && this.#replies.length === 0) this.#close();
  }

  /** Writes every reply whose predecessors are all answered. */
  #flush(): void {
    let text = "";
    while (this.#replies.length > 0 && this.#replies[0]!.line !== undefined) {
      text += `${this.#replies.shift()!.line}\n`;
    }
    if (text.length > 0 && this.#socket.writable) this.#socket.write(text);
  }

  #close(): void {
    this.#closing = true;
    if (this.#replies.length > 0) return; // flushReplies closes once the last reply is out
    this.#socket.end(() => this.#socket.destroy());
  }

  /**
   * The client shut its side. A half-close (socat, nc) still wants its
   * answers; a client that is gone entirely makes this empty write fail
   * with EPIPE, which closes the socket and cancels its calls.
   */
  #onEnd(): void {
    this.#socket.write("");
    this.#close();
  }

  #onClose(): void {
    this.#closing = true;
    for (const call of this.#calls) call.cancel();
  }
}

function flushReplies(connection: JsonLinesConnection): void {
  connection.flushReplies();
}

interface LineRequest {
  readonly id: unknown;
  readonly method: string;
  readonly path: string;
  readonly token: unknown;
  readonly data: unknown;
  readonly timeoutMs: number;
}

function readRequest(value: unknown): LineRequest | ServiceError {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return new ServiceError("BAD_REQUEST", "each line must be a JSON object");
  }
  const message = value as Record<string, unknown>;
  const { path, method = "GET", timeout_ms: timeoutMs = 0 } = message;
  if (typeof path !== "string" || !path.startsWith("/")) {
    return new ServiceError("BAD_REQUEST", '"path" must be a string starting with /');
  }
  if (typeof method !== "string" || method.length === 0) {
    return new ServiceError("BAD_REQUEST", '"method" must be a non-empty string');
  }
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0) {
    return new ServiceError("BAD_REQUEST", '"timeout_ms" must be a non-negative integer');
  }
  return {
    id: message.id,
    method: method.toUpperCase(),
    path,
    token: message.auth_token,
    data: message.data,
    timeoutMs,
  };
}

function idOf(value: unknown): unknown {
  return typeof value === "object" && value !== null
    ? (value as Record<string, unknown>).id
    : undefined;
}

function successLine(id: unknown, data: unknown): string {
  return JSON.stringify(id === undefined ? { data: data ?? null } : { id, data: data ?? null });
}

function errorLine(id: unknown, error: ServiceError): string {
  const body = error.toWire();
  return JSON.stringify(id === undefined ? { error: body } : { id, error: body });
}
