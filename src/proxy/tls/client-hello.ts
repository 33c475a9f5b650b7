// Reads the server name (SNI, RFC 6066) and ALPN list (RFC 7301) from a TLS
// ClientHello, the first thing a TLS client sends. The bytes may arrive in
// pieces and the handshake message may span several records (RFC 8446 §5.1),
// so the reader is called again with everything received so far until it
// answers "complete". Nothing is decrypted: the ClientHello is in clear text.

/** What the router needs from a ClientHello. */
export interface ClientHello {
  /** The host_name from server_name, lower-cased; undefined when absent. */
  readonly serverName: string | undefined;
  /** Protocols offered in application_layer_protocol_negotiation, in order. */
  readonly alpnProtocols: readonly string[];
  /** How many bytes of the stream the records carrying the ClientHello took. */
  readonly length: number;
}

export type ClientHelloRead =
  | { readonly complete: false }
  | { readonly complete: true; readonly hello: ClientHello };

export class ClientHelloError extends Error {
  readonly code = "ERR_NEXUS_CLIENT_HELLO";
  constructor(message: string) {
    super(message);
    this.name = "ClientHelloError";
  }
}

const RECORD_HEADER = 5;
const MAX_RECORD = 16384;
const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXTENSION_SERVER_NAME = 0;
const EXTENSION_ALPN = 16;
const NAME_TYPE_HOST = 0;
/** Enough for post-quantum key shares and long cipher lists (browsers send < 2 KiB). */
export const DEFAULT_MAX_CLIENT_HELLO = 16 * 1024;
const HOST_NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/**
 * Reads a ClientHello from the start of `bytes`. Answers `complete: false`
 * while more bytes are needed; throws ClientHelloError when the bytes are not
 * a ClientHello or would exceed `maxBytes`.
 */
export function readClientHello(
  bytes: Uint8Array,
  maxBytes: number = DEFAULT_MAX_CLIENT_HELLO,
): ClientHelloRead {
  const fragments: Uint8Array[] = [];
  let handshakeBytes = 0;
  let offset = 0;
  while (offset + RECORD_HEADER <= bytes.length) {
    const type = bytes[offset]!;
    const major = bytes[offset + 1]!;
    const length = (bytes[offset + 3]! << 8) | bytes[offset + 4]!;
    if (type !== CONTENT_HANDSHAKE) throw new ClientHelloError("not a TLS handshake record");
    if (major !== 3) throw new ClientHelloError("unsupported record version");
    if (length === 0 || length > MAX_RECORD) throw new ClientHelloError("bad record length");
    const end = offset + RECORD_HEADER + length;
    if (end > maxBytes) throw new ClientHelloError(`ClientHello exceeds ${maxBytes} bytes`);
    if (end > bytes.length) break;
    fragments.push(bytes.subarray(offset + RECORD_HEADER, end));
    handshakeBytes += length;
    offset = end;
    if (handshakeBytes < 4) continue;
    const message = concat(fragments, handshakeBytes);
    if (message[0] !== HANDSHAKE_CLIENT_HELLO) throw new ClientHelloError("not a ClientHello");
    const bodyLength = (message[1]! << 16) | (message[2]! << 8) | message[3]!;
    if (4 + bodyLength > maxBytes)
      throw new ClientHelloError(`ClientHello exceeds ${maxBytes} bytes`);
    if (handshakeBytes < 4 + bodyLength) continue;
    const body = parseBody(new Reader(message.subarray(4, 4 + bodyLength)));
    return { complete: true, hello: { ...body, length: offset } };
  }
  if (bytes.length >= maxBytes) throw new ClientHelloError(`ClientHello exceeds ${maxBytes} bytes`);
  if (bytes.length > 0 && bytes[0] !== CONTENT_HANDSHAKE) {
    throw new ClientHelloError("not a TLS handshake record");
  }
  return { complete: false };
}

function parseBody(reader: Reader): Omit<ClientHello, "length"> {
  const version = reader.u16();
  if (version >> 8 !== 3) throw new ClientHelloError("unsupported ClientHello version");
  reader.advance(32); // random
  const sessionId = reader.vector(1);
  if (sessionId.remaining > 32) throw new ClientHelloError("session id longer than 32 bytes");
  const cipherSuites = reader.vector(2);
  if (cipherSuites.remaining < 2 || cipherSuites.remaining % 2 !== 0) {
    throw new ClientHelloError("bad cipher suite list");
  }
  if (reader.vector(1).remaining < 1) throw new ClientHelloError("empty compression methods");
  let serverName: string | undefined;
  let alpnProtocols: string[] = [];
  // Hellos from before TLS 1.2 may end here, with no extensions at all.
  if (reader.remaining > 0) {
    const extensions = reader.vector(2);
    reader.expectEnd("trailing bytes after extensions");
    const seen = new Set<number>();
    while (extensions.remaining > 0) {
      const type = extensions.u16();
      const data = extensions.vector(2);
      if (seen.has(type)) throw new ClientHelloError(`extension ${type} sent twice`);
      seen.add(type);
      if (type === EXTENSION_SERVER_NAME) serverName = parseServerName(data);
      else if (type === EXTENSION_ALPN) alpnProtocols = parseAlpn(data);
    }
  }
  return { serverName, alpnProtocols };
}

function parseServerName(data: Reader): string | undefined {
  const list = data.vector(2);
  data.expectEnd("trailing bytes in server_name");
  let hostName: string | undefined;
  while (list.remaining > 0) {
    const nameType = list.u8();
    const name = list.vector(2);
    if (nameType !== NAME_TYPE_HOST) continue;
    if (hostName !== undefined) throw new ClientHelloError("two host names in server_name");
    hostName = name.rest().toString("latin1").toLowerCase();
    if (hostName.length > 255 || !HOST_NAME.test(hostName)) {
      throw new ClientHelloError("server_name is not a DNS host name");
    }
  }
  return hostName;
}

function parseAlpn(data: Reader): string[] {
  const list = data.vector(2);
  data.expectEnd("trailing bytes in ALPN");
  if (list.remaining === 0) throw new ClientHelloError("empty ALPN list");
  const protocols: string[] = [];
  while (list.remaining > 0) {
    const protocol = list.vector(1);
    if (protocol.remaining === 0) throw new ClientHelloError("empty ALPN protocol name");
    protocols.push(protocol.rest().toString("latin1"));
  }
  return protocols;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
}

/** Bounds-checked reading of TLS presentation-language fields. */
class Reader {
  readonly #bytes: Buffer;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.#bytes.length - this.#offset;
  }

  u8(): number {
    this.#need(1);
    return this.#bytes[this.#offset++]!;
  }

  u16(): number {
    this.#need(2);
    const value = this.#bytes.readUInt16BE(this.#offset);
    this.#offset += 2;
    return value;
  }

  advance(count: number): void {
    this.#need(count);
    this.#offset += count;
  }

  /** A field with a length prefix of `prefixBytes` bytes, as a reader of its own. */
  vector(prefixBytes: 1 | 2): Reader {
    const length = prefixBytes === 1 ? this.u8() : this.u16();
    this.#need(length);
    const start = this.#offset;
    this.#offset += length;
    return new Reader(this.#bytes.subarray(start, start + length));
  }

  rest(): Buffer {
    const rest = this.#bytes.subarray(this.#offset);
    this.#offset = this.#bytes.length;
    return rest;
  }

  expectEnd(message: string): void {
    if (this.remaining !== 0) throw new ClientHelloError(message);
  }

  #need(count: number): void {
    if (this.remaining < count) throw new ClientHelloError("ClientHello field overruns its length");
  }
}
