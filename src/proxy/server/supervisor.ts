// The primary process of `nexus proxy`: forks the workers (node:cluster),
// hands them the config, serves the metrics of all of them, reloads them on
// SIGHUP and drains them on SIGTERM. A worker that dies unexpectedly is
// replaced. Listeners on port 0 get their port from the first worker, so
// that every worker of an SO_REUSEPORT listener binds the same port.
import cluster, { type Worker } from "node:cluster";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { loadProxyConfig, type ProxyConfig } from "./config.ts";
import { MetricsEndpoint } from "./metrics-endpoint.ts";
import type { ListenerAddress } from "./proxy-server.ts";
import type { FromWorker, ToWorker } from "./worker-messages.ts";

const WORKER_ENTRY = fileURLToPath(new URL("./worker-main.ts", import.meta.url));
/** A worker that dies sooner than this after starting is restarted after a pause. */
const CRASH_WINDOW_MS = 2000;

export interface SupervisorOptions {
  readonly configPath: string;
  readonly logger: Logger;
  /** Overrides the config's `workers`. */
  readonly workers?: number;
}

export class ProxySupervisor {
  readonly #options: SupervisorOptions;
  readonly #log: Logger;
  readonly #workers = new Set<Worker>();
  #config: ProxyConfig;
  #addresses: ListenerAddress[] = [];
  #metrics: MetricsEndpoint | undefined;
  #stopping = false;
  /** Private folder for the workers' peer sockets. */
  #runtimeDir = "";

  constructor(options: SupervisorOptions, config: ProxyConfig) {
    this.#options = options;
    this.#log = options.logger;
    this.#config = this.#withWorkers(config);
  }

  /** Where the listeners are (ports resolved) once started. */
  get addresses(): readonly ListenerAddress[] {
    return this.#addresses;
  }

  get metricsPort(): number | undefined {
    return this.#metrics?.port;
  }

  /** Starts the first worker, then the others on the ports it bound. */
  async start(): Promise<void> {
    cluster.setupPrimary({
      exec: WORKER_ENTRY,
      args: [],
      execArgv: [...process.execArgv, ...this.#config.workerNodeOptions],
      silent: false,
    });
    this.#runtimeDir = await mkdtemp(join(tmpdir(), "nexus-proxy-"));
    this.#addresses = await this.#fork(0);
    this.#config = this.#pinPorts(this.#config);
    await Promise.all(
      Array.from({ length: this.#config.workers - 1 }, (_, i) => this.#fork(i + 1)),
    );
    if (this.#config.metrics) {
      this.#metrics = new MetricsEndpoint();
      await this.#metrics.listen(this.#config.metrics.port, this.#config.metrics.host);
    }
    this.#log.info(
      { workers: this.#config.workers, listeners: this.#addresses, metrics: this.#metrics?.port },
      "proxy started",
    );
  }

  /**
   * Reads the config file again and applies it in every worker. An invalid
   * file changes nothing: the error is logged and returned.
   */
  async reload(): Promise<{ ok: boolean; warnings: string[]; error?: string }> {
    let next: ProxyConfig;
    try {
      next = this.#pinPorts(this.#withWorkers(loadProxyConfig(this.#options.configPath)));
    } catch (error) {
      const message = (error as Error).message;
      this.#log.error({ error: message }, "config reload refused; keeping the running config");
      return { ok: false, warnings: [], error: message };
    }
    this.#config = next;
    const replies = await Promise.all(
      [...this.#workers].map((worker) =>
        this.#request(worker, { type: "nexus:reload", config: next }, "nexus:reloaded"),
      ),
    );
    const warnings = [
      ...new Set(replies.flatMap((reply) => ("warnings" in reply ? reply.warnings : []))),
    ];
    const failed = replies.find((reply) => reply.type === "nexus:failed");
    if (failed && failed.type === "nexus:failed") {
      this.#log.error({ error: failed.message }, "config reload failed in a worker");
      return { ok: false, warnings, error: failed.message };
    }
    for (const warning of warnings) this.#log.warn(warning);
    this.#log.info("config reloaded");
    return { ok: true, warnings };
  }

  /** Asks every worker to drain and waits until all have exited. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const exits = [...this.#workers].map((worker) => once(worker, "exit"));
    for (const worker of this.#workers) this.#send(worker, { type: "nexus:drain" });
    // Workers enforce the drain deadline themselves; this is the backstop.
    const backstop = setTimeout(() => {
      for (const worker of this.#workers) worker.process.kill("SIGKILL");
    }, this.#config.drainTimeoutMs + 5000);
    await Promise.all(exits);
    clearTimeout(backstop);
    await this.#metrics?.close();
    if (this.#runtimeDir) await rm(this.#runtimeDir, { recursive: true, force: true });
    this.#log.info("proxy stopped");
  }

  #withWorkers(config: ProxyConfig): ProxyConfig {
    return this.#options.workers === undefined
      ? config
      : { ...config, workers: this.#options.workers };
  }

  /**
   * HTTP listeners on port 0 take the port the first worker bound, so later
   * workers (and reloads) join the same SO_REUSEPORT group. Other protocols
   * share the primary's socket, where port 0 already means one port.
   */
  #pinPorts(config: ProxyConfig): ProxyConfig {
    const listeners = config.listeners.map((listener, index) => {
      const bound = this.#addresses[index];
      if (listener.protocol !== "http" || listener.port !== 0 || bound === undefined)
        return listener;
      return { ...listener, port: bound.port };
    });
    return { ...config, listeners };
  }

  /** Starts the worker of slot `index` (a replacement takes the slot of the one it replaces). */
  async #fork(index: number): Promise<ListenerAddress[]> {
    const worker = cluster.fork();
    const startedAt = Date.now();
    this.#workers.add(worker);
    worker.once("exit", (code, signal) => {
      this.#workers.delete(worker);
      if (this.#stopping) return;
      this.#log.error({ pid: worker.process.pid, code, signal }, "worker died; starting another");
      const pause = Date.now() - startedAt < CRASH_WINDOW_MS ? CRASH_WINDOW_MS : 0;
      setTimeout(() => {
        if (!this.#stopping)
          this.#fork(index).catch((error) => this.#log.error({ error }, "restart failed"));
      }, pause);
    });
    await once(worker, "online");
    const reply = await this.#request(
      worker,
      {
        type: "nexus:start",
        config: this.#config,
        slot: { index, count: this.#config.workers, runtimeDir: this.#runtimeDir },
      },
      "nexus:listening",
    );
    if (reply.type !== "nexus:listening")
      throw new Error(
        `a worker failed to start: ${reply.type === "nexus:failed" ? reply.message : "no answer"}`,
      );
    return reply.addresses;
  }

  #send(worker: Worker, message: ToWorker): void {
    if (worker.isConnected()) worker.send(message);
  }

  /** Sends `message` and waits for the worker's answer (or its failure or exit). */
  #request(
    worker: Worker,
    message: ToWorker,
    answer: FromWorker["type"],
  ): Promise<FromWorker | { type: "exited" }> {
    return new Promise((resolve) => {
      const onMessage = (reply: FromWorker) => {
        if (reply?.type !== answer && reply?.type !== "nexus:failed") return;
        cleanup();
        resolve(reply);
      };
      const onExit = () => {
        cleanup();
        resolve({ type: "exited" });
      };
      const cleanup = () => {
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.once("exit", onExit);
      this.#send(worker, message);
    });
  }
}
