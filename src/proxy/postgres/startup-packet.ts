// The first packet a PostgreSQL client sends has no type byte: an Int32
// length (counting itself) and an Int32 code. The code is either a protocol
// version (StartupMessage) or one of three request codes.
import { SqlStateError } from "./sql-state-error.ts";

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** PostgreSQL refuses startup packets longer than this (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;
/** Protocol 3.2 allows cancel keys of up to 256 bytes. */
export const MAX_CANCEL_KEY_LENGTH = 256;
export const PROTOCOL_MAJOR = 3;
/** The newest minor version this proxy understands (3.2: long cancel keys). */
export const LATEST_PROTOCOL_MINOR = 2;

export type StartupPacket =
  | { readonly kind: "ssl" }
  | { readonly kind: "gssenc" }
  | { readonly kind: "cancel"; readonly processId: number; readonly secretKey: Buffer }
  | {
      readonly kind: "startup";
      readonly major: number;
      readonly minor: number;
      /** Parameters in the order the client sent them (user, database, options, …). */
      readonly parameters: ReadonlyMap<string, string>;
    };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The length a startup packet announces in its first four bytes, checked
 * against PostgreSQL's own bounds. Throws a 08P01 SqlStateError.
 */
export function startupPacketLength(header: Buffer): number {
  const length = header.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET_LENGTH) {
    throw new SqlStateError("08P01", `invalid length of startup packet: ${length}`);
  }
  return length;
}

/** Parses one whole startup packet (length prefix included). Throws SqlStateError. */
export function parseStartupPacket(packet: Buffer): StartupPacket {
  if (packet.length < 8) throw new SqlStateError("08P01", "incomplete startup packet");
  const length = startupPacketLength(packet);
  if (length !== packet.length) {
    throw new SqlStateError("08P01", `startup packet length ${length} does not match its contents`);
  }
  const code = packet.readInt32BE(4);
  switch (code) {
    case SSL_REQUEST_CODE:
      return requestWithoutBody(packet, "ssl");
    case GSSENC_REQUEST_CODE:
      return requestWithoutBody(packet, "gssenc");
    case CANCEL_REQUEST_CODE:
      return parseCancelRequest(packet);
    default:
      return parseStartupMessage(packet, code);
  }
}

function requestWithoutBody(packet: Buffer, kind: "ssl" | "gssenc"): StartupPacket {
  if (packet.length !== 8) {
    throw new SqlStateError("08P01", `invalid length of ${kind.toUpperCase()} request`);
  }
  return { kind };
}

function parseCancelRequest(packet: Buffer): StartupPacket {
  const keyLength = packet.length - 12;
  if (keyLength < 4 || keyLength > MAX_CANCEL_KEY_LENGTH) {
    throw new SqlStateError("08P01", "invalid length of cancel request");
  }
  return {
    kind: "cancel",
    processId: packet.readInt32BE(8),
    secretKey: Buffer.from(packet.subarray(12)),
  };
}

function parseStartupMessage(packet: Buffer, version: number): StartupPacket {
  const major = version >>> 16;
  const minor = version & 0xffff;
  if (major !== PROTOCOL_MAJOR) {
    throw new SqlStateError(
      "0A000",
      `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.${LATEST_PROTOCOL_MINOR}`,
    );
  }
  // name NUL value NUL … NUL: PostgreSQL's own layout check, step by step.
  const body = packet.subarray(8);
  const layoutError = () =>
    new SqlStateError("08P01", "invalid startup packet layout: expected terminator as last byte");
  const parameters = new Map<string, string>();
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const name = readCString(body, offset);
    if (name === undefined || name.end >= body.length) throw layoutError();
    const value = readCString(body, name.end);
    if (value === undefined) throw layoutError();
    parameters.set(name.text, value.text);
    offset = value.end;
  }
  if (offset !== body.length - 1) throw layoutError();
  if (!parameters.has("user") || parameters.get("user") === "") {
    throw new SqlStateError("28000", "no PostgreSQL user name specified in startup packet");
  }
  return { kind: "startup", major, minor, parameters };
}

/** The NUL-terminated string at `offset`, or undefined when no NUL ends it. */
function readCString(body: Buffer, offset: number): { text: string; end: number } | undefined {
  const nul = body.indexOf(0, offset);
  if (nul < 0) return undefined;
  try {
    return { text: utf8.decode(body.subarray(offset, nul)), end: nul + 1 };
  } catch {
    throw new SqlStateError("08P01", "invalid startup packet: a parameter is not valid UTF-8");
  }
}

/** Encodes a StartupMessage for the backend. */
export function encodeStartupMessage(
  major: number,
  minor: number,
  parameters: ReadonlyMap<string, string>,
): Buffer {
  const pieces: Buffer[] = [];
  for (const [name, value] of parameters) {
    pieces.push(Buffer.from(`${name}\0${value}\0`, "utf8"));
  }
  pieces.push(Buffer.from([0]));
  const body = Buffer.concat(pieces);
  const packet = Buffer.allocUnsafe(8 + body.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE((major << 16) | minor, 4);
  body.copy(packet, 8);
  return packet;
}

/** Encodes a CancelRequest (a 4-byte key for protocol 3.0, longer ones for 3.2). */
export function encodeCancelRequest(processId: number, secretKey: Buffer): Buffer {
  const packet = Buffer.allocUnsafe(12 + secretKey.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processId, 8);
  secretKey.copy(packet, 12);
  return packet;
}
