// Entry point of a proxy worker process (forked by ProxySupervisor through
// node:cluster). It waits for its config, runs a ProxyServer, applies
// reloads, and drains on request or on SIGTERM, then exits.
import process from "node:process";
import { pino } from "pino";
import { AggregatorRegistry } from "prom-client";
import type { ProxyConfig } from "./config.ts";
import { ProxyServer } from "./proxy-server.ts";
import { type FromWorker, isToWorker } from "./worker-messages.ts";
import type { WorkerSlot } from "./worker-slot.ts";

const log = pino({ name: "nexus-proxy-worker" }).child({ pid: process.pid });
let server: ProxyServer | undefined;
let config: ProxyConfig | undefined;
let draining = false;

function send(message: FromWorker): void {
  process.send?.(message);
}

async function start(next: ProxyConfig, slot: WorkerSlot): Promise<void> {
  config = next;
  try {
    server = await ProxyServer.start(next, slot);
  } catch (error) {
    send({ type: "nexus:failed", during: "start", message: (error as Error).message });
    process.exit(1);
  }
  // The supervisor's GET /metrics collects every worker's registry. Making
  // an AggregatorRegistry is what installs prom-client's answer to it.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([server.registry]);
  send({ type: "nexus:listening", addresses: server.addresses() });
}

async function reload(next: ProxyConfig): Promise<void> {
  if (!server) return;
  try {
    const warnings = await server.reload(next);
    config = next;
    send({ type: "nexus:reloaded", warnings });
  } catch (error) {
    send({ type: "nexus:failed", during: "reload", message: (error as Error).message });
  }
}

async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  const deadline = setTimeout(() => {
    log.warn("drain deadline passed; closing the remaining connections");
    process.exit(0);
  }, config?.drainTimeoutMs ?? 10_000);
  deadline.unref();
  await server?.close();
  process.exit(0);
}

process.on("message", (message: unknown) => {
  if (!isToWorker(message)) return;
  if (message.type === "nexus:start") void start(message.config, message.slot);
  else if (message.type === "nexus:reload") void reload(message.config);
  else void drain();
});
process.on("SIGTERM", () => void drain());
process.on("SIGINT", () => void drain());
// A reload is the supervisor's job: a hang-up sent to the whole process group
// must not kill the workers.
process.on("SIGHUP", () => {});
process.on("disconnect", () => void drain());
