// The process the supervisor forks for each service instance: imports the
// service module, serves it on its socket, reports ready and figures over
// IPC, and drains on request. If the supervisor goes away (its IPC channel
// closes, even after a kill -9), the host drains and exits: no orphans.
import { cpuUsage, memoryUsage } from "node:process";
import { pathToFileURL } from "node:url";
import { ServiceDefinition } from "../service/index.ts";
import { type ServiceServer, serve } from "../transport/index.ts";
import {
  EXIT_DRAIN_DEADLINE,
  HOST_SETTINGS_ENV,
  type HostCommand,
  type HostReport,
  type HostSettings,
} from "./host-messages.ts";
import { RequestMetrics } from "./request-metrics.ts";

const FIGURES_EVERY_MS = 1000;
/** Drain deadline when the supervisor disappears without saying how long. */
const ORPHAN_DRAIN_MS = 5000;

const settings = JSON.parse(process.env[HOST_SETTINGS_ENV] ?? "null") as HostSettings | null;
if (settings === null || typeof process.send !== "function") {
  process.stderr.write("service-host is started by the nexus orchestrator, not by hand\n");
  process.exit(2);
}

function report(message: HostReport): void {
  if (process.connected) process.send?.(message, undefined, {}, () => {});
}

let server: ServiceServer | undefined;
let stopping: Promise<void> | undefined;

function stop(timeoutMs: number): Promise<void> {
  stopping ??= (async () => {
    clearInterval(figuresTimer);
    // Set before close() starts its own deadline timer, so this one fires first.
    let deadlinePassed = false;
    setTimeout(() => {
      deadlinePassed = true;
    }, timeoutMs).unref();
    // Exit even if a stop hook hangs; the supervisor's SIGKILL is the last resort.
    setTimeout(() => process.exit(EXIT_DRAIN_DEADLINE), timeoutMs + 500).unref();
    await server?.close({ timeoutMs });
    // process.exit drops output Node has not yet handed to the pipe: let the
    // supervisor have every last log line (the exit timer above bounds this).
    await Promise.all([process.stdout, process.stderr].map(flushed));
    process.exit(deadlinePassed ? EXIT_DRAIN_DEADLINE : 0);
  })();
  return stopping;
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

process.on("message", (message: HostCommand) => {
  if (message?.type === "drain") void stop(message.timeoutMs);
});
process.on("disconnect", () => void stop(ORPHAN_DRAIN_MS));
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  // A Ctrl-C in the terminal reaches the whole process group; the supervisor
  // decides when this process drains.
  process.on(signal, () => {});
}

const metrics = new RequestMetrics(settings.service);
let lastCpu = cpuUsage();
let lastCpuAt = performance.now();
const figuresTimer = setInterval(async () => {
  const cpu = cpuUsage(lastCpu);
  const now = performance.now();
  const cpuPercent = ((cpu.user + cpu.system) / 1000 / (now - lastCpuAt)) * 100;
  lastCpu = cpuUsage();
  lastCpuAt = now;
  report({
    type: "figures",
    inFlight: server?.stats.inFlight ?? 0,
    memoryBytes: memoryUsage.rss(),
    cpuPercent,
    metrics: await metrics.registry.getMetricsAsJSON(),
  });
}, FIGURES_EVERY_MS).unref();

try {
  const module = (await import(pathToFileURL(settings.entry).href)) as { default?: unknown };
  const definition = module.default;
  if (!(definition instanceof ServiceDefinition)) {
    throw new Error(`${settings.entry} must export default defineService({...})`);
  }
  if (definition.name !== settings.service) {
    throw new Error(
      `${settings.entry} defines service "${definition.name}" but the config names it "${settings.service}"`,
    );
  }
  server = await serve(definition, {
    socketDir: settings.socketDir,
    socketPath: settings.socketPath,
    replace: settings.listen === "replace",
    ...(settings.tokenFile ? { tokenPath: settings.tokenFile } : {}),
    onRequest: (outcome) => metrics.record(outcome.durationMs, outcome.error !== undefined),
  });
  report({ type: "ready" });
} catch (error) {
  const reason = (error as Error).message;
  process.stderr.write(`${(error as Error).stack ?? reason}\n`);
  report({ type: "failed", reason });
  setTimeout(() => process.exit(1), 100).unref();
}
