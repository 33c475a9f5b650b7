// Talks to a running orchestrator over its control socket (one JSON line
// each way). A missing orchestrator is a clear error, not a stack trace.
import { once } from "node:events";
import { connect } from "node:net";
import { createInterface } from "node:readline";
import {
  type ControlReply,
  type ControlRequest,
  controlSocketPath,
} from "../orchestrator/control-server.ts";

export class NoOrchestratorError extends Error {
  constructor(path: string) {
    super(`no orchestrator is running (nothing listens on ${path}); start one with: nexus up`);
    this.name = "NoOrchestratorError";
  }
}

export class ControlRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlRefusedError";
  }
}

export async function sendControl(socketDir: string, request: ControlRequest): Promise<unknown> {
  const path = controlSocketPath(socketDir);
  const socket = connect(path);
  try {
    await once(socket, "connect");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ECONNREFUSED") throw new NoOrchestratorError(path);
    throw error;
  }
  // Not end(): the orchestrator would close its side before it answers.
  socket.write(`${JSON.stringify(request)}\n`);
  const lines = createInterface({ input: socket, crlfDelay: Infinity });
  for await (const line of lines) {
    socket.destroy();
    const reply = JSON.parse(line) as ControlReply;
    if (!reply.ok) throw new ControlRefusedError(reply.error);
    return reply.result;
  }
  throw new Error(`the orchestrator closed ${path} without answering`);
}
