// Closing a client connection after its last answer, as nginx's lingering
// close does: the answer goes out followed by a FIN; whatever the client
// still sends is read and dropped (closing with unread bytes would make the
// kernel send a reset, which can destroy the answer still in flight); and a
// client that never closes its end is dropped after LINGER_MS, so no
// connection outlives its last answer by more than that.
import type { Duplex } from "node:stream";

export const LINGER_MS = 2000;

/** Ends `socket` after `last` (if given) and destroys it at the latest LINGER_MS later. */
export function closeLingering(socket: Duplex, last?: string): void {
  if (socket.destroyed) return;
  socket.resume();
  if (last === undefined) socket.end();
  else socket.end(last, "latin1");
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once("close", () => clearTimeout(timer));
}
