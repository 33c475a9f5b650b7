// The Nexus side shared by the three Nexus dialects: one service, served on
// one Unix socket, with the handler every system runs. The route needs the
// token (auth is checked on every request, as in production); it has no
// input schema, like the peers' handlers.
import pino from "pino";
import { defineService } from "../../../src/service/index.ts";
import { serve } from "../../../src/transport/index.ts";
import { type RunningServer, replyTo } from "../system.ts";

export const TOKEN = "bench-token-0123456789abcdef";
export const silent = pino({ level: "silent" });

export const benchService = defineService({ name: "bench" }).route("POST /user", ({ data }) =>
  replyTo(data as { id: number }),
);

export async function serveNexus(dir: string): Promise<RunningServer> {
  const server = await serve(benchService, { socketDir: dir, token: TOKEN, log: silent });
  return { address: server.path, close: () => server.close({ timeoutMs: 1000 }) };
}
