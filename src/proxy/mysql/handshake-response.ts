// The client's answer to the greeting, HandshakeResponse41, and its short
// form, SSLRequest (the first 32 bytes alone, sent before a TLS handshake).
import {
  CLIENT_CONNECT_ATTRS,
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  CLIENT_SSL,
} from "./capabilities.ts";
import { MalformedPacketError } from "./malformed-packet-error.ts";
import { encodeLengthEncodedInteger, PayloadReader } from "./payload-reader.ts";

export interface HandshakeResponse {
  readonly capabilities: number;
  readonly maxPacketSize: number;
  readonly characterSet: number;
  readonly user: Buffer;
  readonly authResponse: Buffer;
  /** Present when CLIENT_CONNECT_WITH_DB is set. */
  readonly database: Buffer | undefined;
  /** Present when CLIENT_PLUGIN_AUTH is set. */
  readonly authPlugin: string | undefined;
  /** The raw key/value block of connection attributes (CLIENT_CONNECT_ATTRS). */
  readonly attributes: Buffer | undefined;
}

/** Flags, max packet size, character set and 23 reserved bytes. */
const FIXED_PART = 4 + 4 + 1 + 23;

/** The capability flags a client sent; the first field of both forms. */
export function readClientCapabilities(payload: Buffer): number {
  if (payload.length < 4) throw new MalformedPacketError("the handshake response is too short");
  return payload.readUInt32LE(0);
}

/** True when the payload is an SSLRequest: a client asking to start TLS. */
export function isSslRequest(payload: Buffer): boolean {
  return payload.length === FIXED_PART && (readClientCapabilities(payload) & CLIENT_SSL) !== 0;
}

export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const reader = new PayloadReader(payload);
  const capabilities = reader.uint32();
  if (!(capabilities & CLIENT_PROTOCOL_41)) {
    throw new MalformedPacketError("only the 4.1 handshake response is understood");
  }
  const maxPacketSize = reader.uint32();
  const characterSet = reader.uint8();
  reader.bytes(23);
  const user = reader.nulTerminated();
  let authResponse: Buffer;
  if (capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    authResponse = reader.lengthEncodedBytes();
  } else if (capabilities & CLIENT_SECURE_CONNECTION) {
    authResponse = reader.bytes(reader.uint8());
  } else {
    authResponse = reader.nulTerminated();
  }
  const database = capabilities & CLIENT_CONNECT_WITH_DB ? reader.nulTerminatedOrRest() : undefined;
  const authPlugin =
    capabilities & CLIENT_PLUGIN_AUTH && reader.remaining > 0
      ? reader.nulTerminatedOrRest().toString("utf8")
      : undefined;
  const attributes =
    capabilities & CLIENT_CONNECT_ATTRS && reader.remaining > 0
      ? reader.lengthEncodedBytes()
      : undefined;
  return {
    capabilities,
    maxPacketSize,
    characterSet,
    user,
    authResponse,
    database,
    authPlugin,
    attributes,
  };
}

/** Writes a response with the fields its own capability flags call for. */
export function encodeHandshakeResponse(response: HandshakeResponse): Buffer {
  const flags = response.capabilities;
  const fixed = Buffer.alloc(FIXED_PART);
  fixed.writeUInt32LE(flags >>> 0, 0);
  fixed.writeUInt32LE(response.maxPacketSize >>> 0, 4);
  fixed.writeUInt8(response.characterSet, 8);
  const parts = [fixed, response.user, Buffer.from([0])];
  if (flags & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    parts.push(encodeLengthEncodedInteger(response.authResponse.length), response.authResponse);
  } else if (flags & CLIENT_SECURE_CONNECTION) {
    if (response.authResponse.length > 0xff) {
      throw new RangeError("an auth response over 255 bytes needs lenenc client data");
    }
    parts.push(Buffer.from([response.authResponse.length]), response.authResponse);
  } else {
    parts.push(response.authResponse, Buffer.from([0]));
  }
  if (flags & CLIENT_CONNECT_WITH_DB)
    parts.push(response.database ?? Buffer.alloc(0), Buffer.from([0]));
  if (flags & CLIENT_PLUGIN_AUTH) parts.push(Buffer.from(`${response.authPlugin ?? ""}\0`, "utf8"));
  if (flags & CLIENT_CONNECT_ATTRS) {
    const attributes = response.attributes ?? Buffer.alloc(0);
    parts.push(encodeLengthEncodedInteger(attributes.length), attributes);
  }
  return Buffer.concat(parts);
}
