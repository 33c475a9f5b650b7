// Packet framing: a 3-byte little-endian payload length, a 1-byte sequence
// id, then the payload. The handshake never needs packets of 16 MiB or more,
// so multi-packet payloads are not assembled here.

export interface Packet {
  /** Sequence id, 0..255; each side answers with the next one. */
  readonly sequence: number;
  readonly payload: Buffer;
}

export const HEADER_SIZE = 4;
export const MAX_PAYLOAD = 0xffffff;

export function encodePacket(sequence: number, payload: Buffer): Buffer {
  if (payload.length >= MAX_PAYLOAD) {
    throw new RangeError(`a ${payload.length}-byte payload needs splitting`);
  }
  const header = Buffer.allocUnsafe(HEADER_SIZE);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = sequence & 0xff;
  return Buffer.concat([header, payload]);
}

/** The next sequence id after `sequence`, wrapping at 256. */
export function nextSequence(sequence: number, step = 1): number {
  return (sequence + step) & 0xff;
}
