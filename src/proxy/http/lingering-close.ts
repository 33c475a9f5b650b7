// Closing a client connection after its last answer, as nginx's lingering
// close does: the answer goes out followed by a FIN; whatever the client
// still sends is read and dropped (closing with unread bytes would make the
// kernel send a reset, which can destroy the answer still in flight); and a
// client that never closes its end is dropped LINGER_MS after the answer
// has been handed to the kernel, so a slow reader still gets all of it.
import type { Duplex } from "node:stream";

export const LINGER_MS = 2000;

/**
 * Ends `socket` after `last` (if given) and destroys it LINGER_MS after
 * everything written has gone out, if the client has not closed by then.
 */
export function closeLingering(socket: Duplex, last?: string): void {
  if (socket.destroyed) return;
  socket.resume();
  const linger = (): void => {
    if (socket.destroyed) return;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once("close", () => clearTimeout(timer));
  };
  if (last === undefined) socket.end(linger);
  else socket.end(last, "latin1", linger);
}
