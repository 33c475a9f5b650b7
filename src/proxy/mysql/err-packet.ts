// ERR packets: 0xff, a 2-byte error code, '#', a 5-character SQLSTATE and a
// human-readable message (the 4.1 form every client the proxy accepts reads).
export interface ServerError {
  readonly code: number;
  readonly sqlState: string;
  readonly message: string;
}

export const ERR_HEADER = 0xff;
export const OK_HEADER = 0x00;

export function encodeErr(error: ServerError): Buffer {
  const head = Buffer.alloc(9);
  head[0] = ERR_HEADER;
  head.writeUInt16LE(error.code, 1);
  head.write(`#${error.sqlState.padEnd(5, "0").slice(0, 5)}`, 3, "latin1");
  return Buffer.concat([head, Buffer.from(error.message, "utf8")]);
}
