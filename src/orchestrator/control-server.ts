// The running orchestrator's control socket: one JSON object per line in,
// one per line out (`{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`).
// It lives in the socket directory as `nexus.control`, a name no service
// socket can take (those end in `.sock`).
import { once } from "node:events";
import { chmod, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { SOCKET_MODE } from "../security/index.ts";

export const CONTROL_SOCKET_NAME = "nexus.control";

export function controlSocketPath(socketDir: string): string {
  return join(socketDir, CONTROL_SOCKET_NAME);
}

export interface ControlRequest {
  readonly command: string;
  readonly service?: string;
}

export type ControlReply =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly error: string };

export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

/** A request the orchestrator refuses, with a message for the operator. */
export class ControlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlError";
  }
}

/** A control connection carries a few requests of a few dozen bytes; more is refused. */
const MAX_BYTES_PER_CONNECTION = 64 * 1024;

export class ControlServer {
  readonly path: string;
  readonly #handle: ControlHandler;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(path: string, handle: ControlHandler) {
    this.path = path;
    this.#handle = handle;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  /** The caller has made sure no other orchestrator listens here. */
  async listen(): Promise<void> {
    await rm(this.path, { force: true });
    this.#server.listen(this.path);
    await once(this.#server, "listening");
    await chmod(this.path, SOCKET_MODE);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #serve(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on("close", () => this.#sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    socket.on("data", () => {
      if (socket.bytesRead > MAX_BYTES_PER_CONNECTION && socket.writable) {
        lines.close();
        const refusal = { ok: false, error: "too much input on one control connection" };
        socket.end(`${JSON.stringify(refusal)}\n`);
      }
    });
    // Replies go out in request order, even when a later request is answered sooner.
    let previous: Promise<void> = Promise.resolve();
    lines.on("line", (line) => {
      const reply = this.#answer(line);
      previous = previous.then(async () => {
        const answer = await reply;
        if (socket.writable) socket.write(`${JSON.stringify(answer)}\n`);
      });
    });
  }

  async #answer(line: string): Promise<ControlReply> {
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      return { ok: false, error: "expected one JSON object per line" };
    }
    const command = (request as { command?: unknown } | null)?.command;
    if (typeof command !== "string") return { ok: false, error: 'expected a "command" string' };
    try {
      return { ok: true, result: await this.#handle(request as ControlRequest) };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }
}
