// The server's first packet, HandshakeV10: protocol version 10, server
// version, connection id, a 20-byte scramble in two parts, capability flags,
// character set, status flags and the default authentication plugin.
import { CLIENT_PLUGIN_AUTH, CLIENT_SECURE_CONNECTION } from "./capabilities.ts";
import { MalformedPacketError } from "./malformed-packet-error.ts";
import { PayloadReader } from "./payload-reader.ts";

export interface Greeting {
  readonly serverVersion: string;
  readonly connectionId: number;
  /** The nonce the client's auth response must answer (20 bytes for the usual plugins). */
  readonly scramble: Buffer;
  readonly capabilities: number;
  readonly characterSet: number;
  readonly statusFlags: number;
  readonly authPlugin: string;
}

const PROTOCOL_VERSION = 10;
const SCRAMBLE_PART_1 = 8;

export function encodeGreeting(greeting: Greeting): Buffer {
  const { scramble } = greeting;
  if (scramble.length !== 20) throw new RangeError("the scramble must be 20 bytes");
  const middle = Buffer.alloc(4 + SCRAMBLE_PART_1 + 1 + 2 + 1 + 2 + 2 + 1 + 10);
  let at = middle.writeUInt32LE(greeting.connectionId >>> 0, 0);
  at += scramble.copy(middle, at, 0, SCRAMBLE_PART_1);
  at = middle.writeUInt8(0, at); // filler
  at = middle.writeUInt16LE(greeting.capabilities & 0xffff, at);
  at = middle.writeUInt8(greeting.characterSet, at);
  at = middle.writeUInt16LE(greeting.statusFlags, at);
  at = middle.writeUInt16LE((greeting.capabilities >>> 16) & 0xffff, at);
  middle.writeUInt8(scramble.length + 1, at); // then 10 reserved zero bytes
  return Buffer.concat([
    Buffer.from([PROTOCOL_VERSION]),
    Buffer.from(`${greeting.serverVersion}\0`, "utf8"),
    middle,
    scramble.subarray(SCRAMBLE_PART_1),
    Buffer.from([0]),
    Buffer.from(`${greeting.authPlugin}\0`, "utf8"),
  ]);
}

export function parseGreeting(payload: Buffer): Greeting {
  const reader = new PayloadReader(payload);
  const protocol = reader.uint8();
  if (protocol !== PROTOCOL_VERSION) {
    throw new MalformedPacketError(`protocol version ${protocol} is not 10`);
  }
  const serverVersion = reader.nulTerminated().toString("utf8");
  const connectionId = reader.uint32();
  const part1 = reader.bytes(SCRAMBLE_PART_1);
  reader.uint8(); // filler
  let capabilities = reader.uint16();
  let characterSet = 0;
  let statusFlags = 0;
  let authPlugin = "mysql_native_password";
  let scramble = part1;
  if (reader.remaining > 0) {
    characterSet = reader.uint8();
    statusFlags = reader.uint16();
    capabilities = (capabilities | (reader.uint16() << 16)) >>> 0;
    const scrambleLength = reader.uint8();
    reader.bytes(10); // reserved (MariaDB keeps its extended capabilities here)
    if (capabilities & CLIENT_SECURE_CONNECTION) {
      const part2 = reader.bytes(Math.max(13, scrambleLength - SCRAMBLE_PART_1));
      // The last byte of part 2 is a NUL terminator, not part of the nonce.
      const end = part2.at(-1) === 0 ? part2.length - 1 : part2.length;
      scramble = Buffer.concat([part1, part2.subarray(0, end)]);
    }
    if (capabilities & CLIENT_PLUGIN_AUTH) {
      authPlugin = reader.nulTerminatedOrRest().toString("utf8");
    }
  }
  return {
    serverVersion,
    connectionId,
    scramble,
    capabilities,
    characterSet,
    statusFlags,
    authPlugin,
  };
}
