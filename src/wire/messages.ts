// The payloads of framed-RPC frames. Handshake, error and GOAWAY payloads are
// always JSON (they are read before a codec is agreed, or rarely);
// REQUEST and RESPONSE payloads use the negotiated codec.
import type { Codec, CodecName } from "./codec.ts";

export const PROTOCOL_VERSION = 1;

export interface Hello {
  readonly version: number;
  /** The shared secret; absent for a connection that only calls public routes. */
  readonly token?: string;
  /** Codecs the client accepts, preferred first. */
  readonly codecs?: readonly CodecName[];
}

export interface Welcome {
  readonly version: number;
  readonly codec: CodecName;
  readonly service: string;
  readonly authenticated: boolean;
  readonly maxFrameBytes: number;
  readonly maxInFlight: number;
}

export interface WireRequest {
  readonly method: string;
  readonly path: string;
  readonly data: unknown;
  /** Milliseconds the caller will wait; 0 when it sets no deadline. */
  readonly timeoutMs: number;
}

export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly details?: unknown;
}

/** A payload that is well framed but does not hold what its frame type requires. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PayloadError";
  }
}

export function encodeJson(value: unknown): string {
  return JSON.stringify(value);
}

export function decodeJsonObject(payload: Buffer, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString("utf8"));
  } catch {
    throw new PayloadError(`${what} payload is not valid JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PayloadError(`${what} payload must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

export function decodeHello(payload: Buffer): Hello {
  const hello = decodeJsonObject(payload, "HELLO");
  if (hello.version !== PROTOCOL_VERSION) {
    throw new PayloadError(`unsupported protocol version ${JSON.stringify(hello.version)}`);
  }
  if (hello.token !== undefined && typeof hello.token !== "string") {
    throw new PayloadError("HELLO token must be a string");
  }
  if (hello.codecs !== undefined && !Array.isArray(hello.codecs)) {
    throw new PayloadError("HELLO codecs must be an array of names");
  }
  return hello as unknown as Hello;
}

/** A request is the codec's encoding of the array [method, path, data, timeoutMs]. */
export function encodeRequest(codec: Codec, request: WireRequest): Buffer | string {
  return codec.encode([request.method, request.path, request.data ?? null, request.timeoutMs]);
}

export function decodeRequest(codec: Codec, payload: Buffer): WireRequest {
  let value: unknown;
  try {
    value = codec.decode(payload);
  } catch {
    throw new PayloadError(`REQUEST payload is not valid ${codec.name}`);
  }
  if (!Array.isArray(value) || value.length < 2 || value.length > 4) {
    throw new PayloadError("REQUEST payload must be [method, path, data?, timeoutMs?]");
  }
  const [method, path, data, timeoutMs = 0] = value as unknown[];
  if (typeof method !== "string" || method.length === 0) {
    throw new PayloadError("REQUEST method must be a non-empty string");
  }
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new PayloadError("REQUEST path must be a string starting with /");
  }
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 0) {
    throw new PayloadError("REQUEST timeoutMs must be a non-negative integer");
  }
  return { method, path, data: data ?? undefined, timeoutMs };
}
