// Raised by the packet parsers when bytes do not form the packet they claim
// to be. The session answers it with ERR 1043 (bad handshake) and closes.
export class MalformedPacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MalformedPacketError";
  }
}
