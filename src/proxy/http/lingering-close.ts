// Closing a client connection after its last answer, as nginx's lingering
// close does: the answer goes out followed by a FIN; whatever the client
// still sends is read and dropped (closing with unread bytes would make the
// kernel send a reset, which can destroy the answer still in flight); and a
// client that never closes its end is dropped LINGER_MS after the answer
// has been handed to the kernel, so a slow reader still gets all of it. One
// that stops reading altogether is dropped once `stalledMs` pass with none
// of the answer taken.
import type { Duplex } from "node:stream";

export const LINGER_MS = 2000;
/**
 * Default time a client may take nothing of the rest of its last answer.
 * Progress is seen per written piece (up to 64 KiB), so this must be long
 * enough for a slow reader to take one whole piece.
 */
const STALLED_MS = 30_000;

/**
 * Ends `socket` after `last` (if given). Destroys it LINGER_MS after
 * everything written has gone out, if the client has not closed by then,
 * or once `stalledMs` pass without the client taking any of the rest.
 */
export function closeLingering(socket: Duplex, last?: string, stalledMs = STALLED_MS): void {
  if (socket.destroyed) return;
  socket.resume();
  if (last === undefined) socket.end();
  else socket.end(last, "latin1");
  let unsent = socket.writableLength;
  const stalled = setInterval(() => {
    const left = socket.writableLength;
    if (left >= unsent) socket.destroy(); // nothing taken since the last look
    unsent = left;
  }, stalledMs);
  stalled.unref();
  let linger: NodeJS.Timeout | undefined;
  socket.once("finish", () => {
    clearInterval(stalled);
    linger = setTimeout(() => socket.destroy(), LINGER_MS);
    linger.unref();
  });
  socket.once("close", () => {
    clearInterval(stalled);
    clearTimeout(linger);
  });
}
