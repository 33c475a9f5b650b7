// A socket timeout is a timer, and an event loop runs its timers before it
// reads input that is already waiting. A process starved for longer than a
// timeout (a loaded machine) would take a peer that did send in time for a
// silent one. So a timeout is acted on only after one more pass of reading
// (setImmediate runs after the loop's poll phase), and only if it read nothing.
import type { Socket } from "node:net";

/** Runs `act` unless `socket` reads something first or is gone. */
export function whenStillSilent(socket: Socket, act: () => void): void {
  const bytesRead = socket.bytesRead;
  setImmediate(() => {
    if (!socket.destroyed && socket.bytesRead === bytesRead) act();
  });
}
