// The client side of one framed-RPC connection: handshake, multiplexed
// requests matched to answers by id, cancel on abort, timeouts, GOAWAY.
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { errorFromWire, ServiceError } from "../service/errors.ts";
import { type Codec, type CodecName, codecs } from "../wire/codec.ts";
import { encodeFrame, type Frame, FrameDecoder, FrameType, PREFACE } from "../wire/frame.ts";
import {
  decodeJsonObject,
  encodeJson,
  encodeRequest,
  type Hello,
  PROTOCOL_VERSION,
} from "../wire/messages.ts";
import { FrameWriter } from "./frame-writer.ts";

export interface RpcConnectOptions {
  readonly path: string;
  readonly token: string | undefined;
  readonly codec: CodecName;
  readonly connectTimeoutMs: number;
  readonly maxFrameBytes: number;
}

export interface RpcRequestOptions {
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

/** A request waiting for its answer. */
class Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: ServiceError) => void;
  /** performance.now() after which the caller stops waiting; Infinity for no deadline. */
  deadline = Number.POSITIVE_INFINITY;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;

  constructor(resolve: (value: unknown) => void, reject: (error: ServiceError) => void) {
    this.resolve = resolve;
    this.reject = reject;
  }
}

/** How often a connection looks for requests past their deadline. */
const SWEEP_INTERVAL_MS = 50;

export class RpcClientConnection {
  readonly path: string;
  readonly #socket: Socket;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #pending = new Map<number, Pending>();
  #codec: Codec | undefined;
  #nextId = 1;
  /** Set once the server sent GOAWAY or the connection failed: take no new requests. */
  #retired = false;
  #closed = false;
  #onRetire: (() => void) | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #handshakeDone: { resolve: () => void; reject: (error: unknown) => void } | undefined;

  /** Connects and completes the handshake; rejects with UNAVAILABLE or UNAUTHORIZED. */
  static async open(options: RpcConnectOptions): Promise<RpcClientConnection> {
    const socket = connect(options.path);
    const connection = new RpcClientConnection(socket, options);
    await connection.#handshake(options);
    return connection;
  }

  private constructor(socket: Socket, options: RpcConnectOptions) {
    this.path = options.path;
    this.#socket = socket;
    this.#writer = new FrameWriter(socket);
    this.#decoder = new FrameDecoder(options.maxFrameBytes);
  }

  /** True while the connection accepts new requests. */
  get usable(): boolean {
    return !this.#retired && !this.#closed;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** Called once when the connection stops taking new requests (GOAWAY, error, close). */
  set onRetire(callback: () => void) {
    this.#onRetire = callback;
  }

  async #handshake(options: RpcConnectOptions): Promise<void> {
    const socket = this.#socket;
    const hello: Hello = {
      version: PROTOCOL_VERSION,
      codecs: options.codec === "msgpack" ? ["msgpack", "json"] : ["json"],
      ...(options.token === undefined ? {} : { token: options.token }),
    };
    const welcomed = new Promise<void>((resolve, reject) => {
      this.#handshakeDone = { resolve, reject };
    });
    // Awaited once connected; a failure before that is reported by the connect step.
    welcomed.catch(() => {});
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("close", () => this.#onClose());
    socket.on("error", (error) => this.#handshakeDone?.reject(error));
    const timer = setTimeout(
      () => socket.destroy(new Error(`no WELCOME within ${options.connectTimeoutMs} ms`)),
      options.connectTimeoutMs,
    );
    try {
      await once(socket, "connect");
      socket.write(Buffer.concat([PREFACE, encodeFrame(FrameType.HELLO, 0, encodeJson(hello))]));
      await welcomed;
      socket.unref();
    } catch (error) {
      socket.destroy();
      if (error instanceof ServiceError) throw error;
      throw new ServiceError("UNAVAILABLE", `cannot connect to ${this.path}: ${describe(error)}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
      this.#handshakeDone = undefined;
    }
  }

  #welcome(frame: Frame): void {
    if (frame.type === FrameType.ERROR) {
      throw errorFromWire(safeJson(frame.payload));
    }
    if (frame.type !== FrameType.WELCOME) {
      throw new Error(`expected WELCOME, got frame type ${frame.type}`);
    }
    const codec = decodeJsonObject(frame.payload, "WELCOME").codec;
    if (codec !== "json" && codec !== "msgpack") throw new Error(`unknown codec ${String(codec)}`);
    this.#codec = codecs[codec];
    this.#handshakeDone?.resolve();
  }

  request(
    method: string,
    path: string,
    data: unknown,
    options: RpcRequestOptions,
  ): Promise<unknown> {
    if (!this.usable) {
      return Promise.reject(new ServiceError("UNAVAILABLE", "the connection is closing"));
    }
    const id = this.#takeId();
    let payload: Buffer | string;
    try {
      payload = encodeRequest(this.#codec!, { method, path, data, timeoutMs: options.timeoutMs });
    } catch (error) {
      return Promise.reject(
        new ServiceError("BAD_REQUEST", `the request data cannot be encoded: ${describe(error)}`),
      );
    }
    return new Promise((resolve, reject) => {
      const pending = new Pending(resolve, reject);
      // An idle connection does not keep the process alive; one with requests in flight does.
      if (this.#pending.size === 0) this.#socket.ref();
      this.#pending.set(id, pending);
      if (options.timeoutMs > 0) {
        pending.deadline = performance.now() + options.timeoutMs;
        this.#sweeper ??= setInterval(sweep, SWEEP_INTERVAL_MS, this);
      }
      if (options.signal !== undefined) {
        pending.signal = options.signal;
        pending.onAbort = () =>
          this.cancel(id, new ServiceError("CANCELLED", "the call was aborted"));
        options.signal.addEventListener("abort", pending.onAbort, { once: true });
      }
      this.#send(FrameType.REQUEST, id, payload);
    });
  }

  /** Stops waiting for a request and tells the server to stop working on it. */
  cancel(id: number, error: ServiceError): void {
    if (!this.#pending.has(id)) return;
    if (!this.#closed) this.#send(FrameType.CANCEL, id);
    this.#settle(id)?.reject(error);
  }

  /** Fails pending requests and closes at once. */
  close(): void {
    this.#retire();
    this.#socket.destroy();
  }

  /**
   * Fails requests past their deadline. The server enforces each deadline
   * precisely and answers TIMEOUT itself; this coarse sweep (one timer per
   * connection, not one per request) covers a server that cannot answer.
   */
  expireOverdue(): void {
    const now = performance.now();
    for (const [id, pending] of this.#pending) {
      if (pending.deadline < now) {
        this.cancel(id, new ServiceError("TIMEOUT", "the service did not answer in time"));
      }
    }
    if (this.#pending.size === 0 && this.#sweeper !== undefined) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #takeId(): number {
    const id = this.#nextId;
    this.#nextId = id === 0xffffffff ? 1 : id + 1;
    return id;
  }

  /** Removes a pending request; returns it, or undefined when it was already settled. */
  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending === undefined) return undefined;
    this.#pending.delete(id);
    if (pending.onAbort !== undefined)
      pending.signal!.removeEventListener("abort", pending.onAbort);
    if (this.#pending.size === 0) {
      this.#socket.unref();
      if (this.#retired) this.#end();
    }
    return pending;
  }

  #receive(chunk: Buffer): void {
    try {
      this.#decoder.push(chunk, this.#onFrame);
    } catch (error) {
      if (this.#handshakeDone !== undefined) {
        this.#handshakeDone.reject(error);
        return;
      }
      this.#failAll(
        new ServiceError("UNAVAILABLE", `the service sent bad frames: ${describe(error)}`),
      );
      this.#socket.destroy();
    }
  }

  readonly #onFrame = (frame: Frame): void => {
    if (this.#codec === undefined) {
      this.#welcome(frame);
      return;
    }
    switch (frame.type) {
      case FrameType.RESPONSE: {
        const pending = this.#settle(frame.id);
        if (pending === undefined) return;
        try {
          pending.resolve(this.#codec!.decode(frame.payload));
        } catch {
          pending.reject(new ServiceError("INTERNAL", "the service's response cannot be decoded"));
        }
        return;
      }
      case FrameType.ERROR: {
        const error = errorFromWire(safeJson(frame.payload));
        if (frame.id === 0) this.#failAll(error);
        else this.#settle(frame.id)?.reject(error);
        return;
      }
      case FrameType.GOAWAY:
        this.#retire();
        if (this.#pending.size === 0) this.#end();
        return;
      default:
        throw new Error(`unexpected frame type ${frame.type} from the service`);
    }
  };

  #send(type: FrameType, id: number, payload?: Buffer | string): void {
    this.#writer.frame(type, id, payload);
  }

  /** Closes our side once what is queued (a last CANCEL, say) is written. */
  #end(): void {
    this.#writer.flush();
    this.#socket.end();
  }

  #retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.#onRetire?.();
  }

  #failAll(error: ServiceError): void {
    this.#retire();
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(error);
  }

  #onClose(): void {
    this.#closed = true;
    this.#handshakeDone?.reject(
      new Error("the service closed the connection during the handshake"),
    );
    this.#failAll(new ServiceError("UNAVAILABLE", "the connection to the service closed"));
    clearInterval(this.#sweeper);
  }
}

function sweep(connection: RpcClientConnection): void {
  connection.expireOverdue();
}

function safeJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
