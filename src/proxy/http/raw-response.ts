// An answer written straight to a client socket, for the moments when no
// response is under way: a refused connection, a malformed request, an
// upgrade that cannot be tunnelled. The connection is closed after it.
import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { closeLingering } from "./lingering-close.ts";

export function writeRawResponse(
  socket: Duplex,
  status: number,
  message: string,
  headers: Readonly<Record<string, string | number>> = {},
): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  head += `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
  closeLingering(socket, head + body);
}
