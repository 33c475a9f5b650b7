// The Unix socket on which a proxy process takes CancelRequests that a
// sibling process (sharing the same client port) received for a key it did
// not issue. Only CancelRequests are read here, and never passed on again.
import { chmod, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import type { CancelForwarder } from "./cancel-forwarder.ts";
import { parseStartupPacket } from "./startup-packet.ts";
import { StartupPacketReader } from "./startup-packet-reader.ts";

const READ_TIMEOUT_MS = 5000;

export class CancelPeerListener {
  readonly #server: Server;
  readonly #forwarder: CancelForwarder;
  readonly #path: string;

  constructor(path: string, forwarder: CancelForwarder) {
    this.#path = path;
    this.#forwarder = forwarder;
    this.#server = createServer((socket) => void this.#serve(socket));
  }

  async listen(): Promise<void> {
    // A socket file left by a previous run of this same process slot.
    await rm(this.#path, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#path, () => {
        this.#server.off("error", reject);
        resolve();
      });
    });
    await chmod(this.#path, 0o600);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  async #serve(socket: Socket): Promise<void> {
    socket.on("error", () => {});
    socket.setTimeout(READ_TIMEOUT_MS, () => socket.destroy());
    try {
      const packet = parseStartupPacket(await new StartupPacketReader(socket).next());
      if (packet.kind === "cancel") await this.#forwarder.cancel(packet, false);
    } catch {
      // Nothing to answer: a sibling only ever sends well-formed requests.
    } finally {
      socket.destroy();
    }
  }
}
