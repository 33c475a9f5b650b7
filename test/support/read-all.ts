// What a peer sends until it ends its side, for half-close tests: the socket
// is left open, so the test can still write after the peer's end.
import { once } from "node:events";
import type { Socket } from "node:net";

export async function readAll(socket: Socket): Promise<string> {
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString();
  });
  await once(socket, "end");
  return text;
}
