// The server side of one framed-RPC connection: handshake, then requests
// served concurrently and answered in any order, cancels, GOAWAY on drain.
import type { Socket } from "node:net";
import { AuthFailures } from "../security/auth-failures.ts";
import { Call } from "../service/call.ts";
import { ServiceError } from "../service/errors.ts";
import { type Codec, negotiateCodec } from "../wire/codec.ts";
import { type Frame, FrameDecoder, FrameError, FrameType } from "../wire/frame.ts";
import {
  decodeHello,
  decodeRequest,
  encodeJson,
  PayloadError,
  PROTOCOL_VERSION,
  type Welcome,
} from "../wire/messages.ts";
import type { ConnectionHost, DialectConnection } from "./connection-host.ts";
import { FrameWriter } from "./frame-writer.ts";
import { whenStillSilent } from "./silence.ts";

export class RpcServerConnection implements DialectConnection {
  readonly #socket: Socket;
  readonly #host: ConnectionHost;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #authFailures: AuthFailures;
  readonly #inFlight = new Map<number, Call>();
  #codec: Codec | undefined;
  #authenticated = false;
  #draining = false;
  #closed = false;

  constructor(socket: Socket, host: ConnectionHost, firstBytes: Buffer) {
    this.#socket = socket;
    this.#host = host;
    this.#writer = new FrameWriter(socket);
    this.#decoder = new FrameDecoder(host.limits.maxMessageBytes);
    this.#authFailures = new AuthFailures(host.limits.maxAuthFailures);
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    socket.on("close", () => this.#onClose());
    // A framed-RPC client closes only when it expects no more answers.
    socket.on("end", () => this.#end());
    socket.on("timeout", () => whenStillSilent(socket, () => this.#onTimeout()));
    socket.on("drain", () => socket.resume());
    if (firstBytes.length > 0) this.#receive(firstBytes);
  }

  drain(reason = "draining"): void {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    // The client closes once its own requests are answered; it owns that
    // moment because only it knows whether a request is still on the way.
    this.#send(FrameType.GOAWAY, 0, encodeJson({ reason }));
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    try {
      this.#decoder.push(chunk, this.#onFrame);
    } catch (error) {
      if (error instanceof FrameError) {
        const code = error.code === "PAYLOAD_TOO_LARGE" ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST";
        this.#fail(new ServiceError(code, error.message));
      } else if (error instanceof PayloadError) {
        this.#fail(new ServiceError("BAD_REQUEST", error.message));
      } else {
        this.#host.log.error({ err: error }, "framed RPC connection failed");
        this.#fail(new ServiceError("INTERNAL", "internal error"));
      }
    }
    // Replies back up: read no more requests until the client reads its answers.
    if (this.#socket.writableNeedDrain) this.#socket.pause();
  }

  readonly #onFrame = (frame: Frame): void => {
    if (this.#closed) return;
    if (this.#codec === undefined) {
      if (frame.type !== FrameType.HELLO) {
        throw new PayloadError(`expected HELLO as the first frame, got type ${frame.type}`);
      }
      this.#handshake(frame.payload);
      return;
    }
    switch (frame.type) {
      case FrameType.REQUEST:
        this.#request(frame.id, frame.payload);
        return;
      case FrameType.CANCEL:
        this.#inFlight.get(frame.id)?.cancel();
        return;
      default:
        throw new PayloadError(`a client may not send frame type ${frame.type} here`);
    }
  };

  #handshake(payload: Buffer): void {
    const hello = decodeHello(payload);
    if (hello.token !== undefined) {
      if (!this.#host.tokenCheck.matches(hello.token)) {
        this.#fail(new ServiceError("UNAUTHORIZED", "the token is not valid"));
        return;
      }
      this.#authenticated = true;
    }
    const { runtime, limits } = this.#host;
    this.#codec = negotiateCodec(hello.codecs ?? [], this.#host.codecs);
    const welcome: Welcome = {
      version: PROTOCOL_VERSION,
      codec: this.#codec.name,
      service: runtime.name,
      authenticated: this.#authenticated,
      maxFrameBytes: limits.maxMessageBytes,
      maxInFlight: limits.maxInFlight,
    };
    this.#socket.setTimeout(limits.idleTimeoutMs);
    this.#send(FrameType.WELCOME, 0, encodeJson(welcome));
  }

  #request(id: number, payload: Buffer): void {
    if (this.#inFlight.has(id)) throw new PayloadError(`request id ${id} is already in flight`);
    if (this.#inFlight.size >= this.#host.limits.maxInFlight) {
      const message = `more than ${this.#host.limits.maxInFlight} requests in flight on one connection`;
      this.#sendError(id, new ServiceError("TOO_MANY_REQUESTS", message));
      return;
    }
    let call: Call;
    try {
      const request = decodeRequest(this.#codec!, payload);
      call = new Call({
        method: request.method,
        path: request.path,
        data: request.data,
        timeoutMs: request.timeoutMs,
        caller: { dialect: "rpc", authenticated: this.#authenticated },
      });
    } catch (error) {
      if (!(error instanceof PayloadError)) throw error;
      this.#sendError(id, new ServiceError("BAD_REQUEST", error.message));
      return;
    }
    this.#inFlight.set(id, call);
    void this.#serve(id, call);
  }

  async #serve(id: number, call: Call): Promise<void> {
    const { stats, runtime } = this.#host;
    const started = stats.begin();
    let type: FrameType = FrameType.RESPONSE;
    let payload: Buffer | string;
    let failure: ServiceError | undefined;
    try {
      payload = this.#codec!.encode(await runtime.dispatch(call));
    } catch (error) {
      failure = error instanceof ServiceError ? error : this.#unencodable(error, call);
      type = FrameType.ERROR;
      payload = encodeJson(failure.toWire());
    }
    this.#inFlight.delete(id);
    stats.end(call, started, failure?.code);
    // A cancelled request gets no answer: its caller has already moved on.
    if (!this.#closed && call.endedEarly?.code !== "CANCELLED") {
      this.#send(type, id, payload);
      if (failure?.code === "UNAUTHORIZED" && this.#authFailures.record()) this.#end();
    }
  }

  #unencodable(error: unknown, call: Call): ServiceError {
    this.#host.log.error({ err: error, path: call.path }, "the handler's result cannot be encoded");
    return new ServiceError("INTERNAL", "internal error");
  }

  #sendError(id: number, error: ServiceError): void {
    this.#send(FrameType.ERROR, id, encodeJson(error.toWire()));
  }

  /** A connection-level error (request id 0), then close. */
  #fail(error: ServiceError): void {
    this.#sendError(0, error);
    this.#end();
  }

  #send(type: FrameType, id: number, payload?: Buffer | string): void {
    if (this.#closed) return;
    this.#writer.frame(type, id, payload);
  }

  #end(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writer.flush();
    this.#socket.end(() => this.#socket.destroy());
    this.#cancelAll();
  }

  #onTimeout(): void {
    if (this.#socket.writableNeedDrain) {
      // Replies unread for a whole idle period: the client is gone or not listening.
      this.#socket.destroy();
    } else if (this.#codec === undefined) {
      this.#fail(new ServiceError("TIMEOUT", "no HELLO frame within the handshake timeout"));
    } else if (this.#inFlight.size === 0) {
      // GOAWAY first, so a request already on its way is still answered;
      // a client still silent one idle period later is closed.
      if (this.#draining) this.#end();
      else this.drain("idle");
    }
  }

  #onClose(): void {
    this.#closed = true;
    this.#cancelAll();
  }

  /** The caller is gone: every handler still running sees its signal fire. */
  #cancelAll(): void {
    for (const call of this.#inFlight.values()) call.cancel();
  }
}
