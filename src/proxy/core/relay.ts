// Relays bytes both ways between a client and its backend once a protocol
// adapter has finished reading what it needed. Streams are piped (no copies
// through strings); either side closing or failing closes the other.
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

export interface RelayTotals {
  /** Bytes the backend sent towards the client. */
  readonly toClient: number;
  /** Bytes written to the backend. */
  readonly toBackend: number;
}

/** Pipes `client` and `backend` into each other; resolves when both are closed. */
export function relay(client: Duplex, backend: Socket): Promise<RelayTotals> {
  return new Promise((resolve) => {
    let open = 2;
    const closed = () => {
      open -= 1;
      if (open === 0) resolve({ toClient: backend.bytesRead, toBackend: backend.bytesWritten });
    };
    client.pipe(backend);
    backend.pipe(client);
    client.once("error", () => backend.destroy());
    backend.once("error", () => client.destroy());
    client.once("close", () => {
      backend.destroy();
      closed();
    });
    backend.once("close", () => {
      client.destroy();
      closed();
    });
  });
}
