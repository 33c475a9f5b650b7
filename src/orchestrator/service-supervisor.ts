// Supervises one service: its instances (one process each), their restarts
// with backoff, crash-loop detection, rolling reload, on-demand wake-up and
// idle stop, its log file and its figures. Lifecycle operations run one at a
// time, so a reload never races a stop or a wake-up.
import { setTimeout as sleep } from "node:timers/promises";
import { socketPathFor } from "../security/index.ts";
import { ActivationSocket } from "./activation-socket.ts";
import type { LogsConfig, ServiceConfig } from "./config.ts";
import type { HostSettings } from "./host-messages.ts";
import { describeExit, Instance } from "./instance.ts";
import { type MetricsJson, type RequestSummary, summarizeRequests } from "./request-metrics.ts";
import { RestartPolicy } from "./restart-policy.ts";
import { RotatingLog } from "./rotating-log.ts";

export type ServiceStatus =
  | "stopped"
  | "starting"
  | "running"
  | "restarting"
  | "reloading"
  | "sleeping"
  | "stopping"
  | "errored";

export interface InstanceSnapshot extends RequestSummary {
  readonly index: number;
  readonly pid: number | undefined;
  readonly socketPath: string;
  readonly uptimeMs: number;
  readonly inFlight: number;
  readonly memoryBytes: number | undefined;
  readonly cpuPercent: number | undefined;
}

export interface ServiceSnapshot extends RequestSummary {
  readonly name: string;
  readonly status: ServiceStatus;
  /** Why the service is errored or stopped on its own. */
  readonly reason: string | undefined;
  /** The last lines of its output, when errored. */
  readonly lastLines: readonly string[];
  readonly entry: string;
  readonly restarts: number;
  readonly logFile: string;
  readonly instances: readonly InstanceSnapshot[];
}

export interface ServiceSupervisorOptions {
  readonly name: string;
  readonly config: ServiceConfig;
  readonly socketDir: string;
  readonly tokenFile: string | undefined;
  readonly logs: LogsConfig;
  /** One human-readable line per lifecycle event. */
  readonly onEvent: (line: string) => void;
}

interface Slot {
  readonly index: number;
  readonly socketPath: string;
  instance: Instance | undefined;
}

const LAST_LINES = 20;
const IDLE_CHECK_MS = 1000;

export class ServiceSupervisor {
  readonly name: string;
  readonly config: ServiceConfig;
  readonly #options: ServiceSupervisorOptions;
  readonly #slots: Slot[];
  readonly #policy: RestartPolicy;
  readonly #log: RotatingLog;
  readonly #activation: ActivationSocket | undefined;
  #status: ServiceStatus = "stopped";
  #reason: string | undefined;
  #restarts = 0;
  #coldStarts = 0;
  #lastLines: string[] = [];
  /** Aborted when the service is stopped: cancels pending restarts and refuses reloads until start(). */
  #running = new AbortController();
  #queue: Promise<unknown> = Promise.resolve();
  #idleTimer: NodeJS.Timeout | undefined;
  #lastActivity = { at: 0, requests: -1 };

  constructor(options: ServiceSupervisorOptions) {
    this.#options = options;
    this.name = options.name;
    this.config = options.config;
    this.#slots = Array.from({ length: options.config.instances }, (_, index) => ({
      index,
      socketPath: socketPathFor(options.socketDir, options.name, index),
      instance: undefined,
    }));
    this.#policy = new RestartPolicy(options.config.restart);
    this.#log = new RotatingLog(`${options.logs.dir}/${options.name}.log`, options.logs);
    this.#activation = options.config.onDemand
      ? new ActivationSocket(
          this.#slots[0]!.socketPath,
          () => this.wake(),
          options.config.onDemand.startTimeoutMs,
        )
      : undefined;
  }

  get status(): ServiceStatus {
    return this.#status;
  }

  get logFile(): string {
    return this.#log.path;
  }

  /** Socket paths of the instances that are ready, for callers that balance themselves. */
  get readySockets(): string[] {
    return this.#slots.filter((s) => s.instance?.readyAt !== undefined).map((s) => s.socketPath);
  }

  /** While asleep or waking, the first instance's path: a connection there waits for the service. */
  get wakeSocket(): string | undefined {
    const waking = this.#status === "sleeping" || this.#status === "starting";
    return waking && this.#activation?.listening ? this.#activation.path : undefined;
  }

  /** Times this on-demand service was woken from sleep, whoever asked. */
  get coldStarts(): number {
    return this.#coldStarts;
  }

  /** Each live instance's prom-client registry, as last reported. */
  get metrics(): MetricsJson[] {
    return this.#liveInstances().flatMap((i) => (i.figures ? [i.figures.metrics] : []));
  }

  /** Starts every instance (an on-demand service only takes its socket) and resolves when ready. */
  start(): Promise<void> {
    return this.#serialize(async () => {
      this.#running = new AbortController();
      this.#reason = undefined;
      if (this.#activation) await this.#goToSleep();
      else await this.#startAll("fresh");
    });
  }

  /** Drains every instance (cutting what outlives the stop deadline). Resolves how many did not drain. */
  stop(): Promise<number> {
    // Cancels pending restarts at once, even those of a start still under way.
    this.#running.abort();
    clearInterval(this.#idleTimer);
    return this.#serialize(async () => {
      this.#setStatus("stopping");
      await this.#activation?.close();
      const notDrained = await this.#stopInstances();
      this.#setStatus("stopped");
      return notDrained;
    });
  }

  /**
   * Rolling reload, one instance at a time: a new process takes the socket
   * over once ready, then the old one drains. An errored service, or one
   * that stopped on its own, starts from scratch; one stopped by stop() stays so.
   */
  reload(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#running.signal.aborted) throw new Error(`${this.name} is stopped`);
      if (this.#status === "sleeping" || this.#status === "stopping") return;
      if (this.#status === "errored" || this.#status === "stopped") {
        this.#policy.reset();
        this.#reason = undefined;
        if (this.#activation) await this.#goToSleep();
        else await this.#startAll("fresh");
        return;
      }
      this.#setStatus("reloading");
      try {
        for (const slot of this.#slots) {
          const previous = slot.instance;
          if (previous === undefined) continue;
          const next = this.#spawn(slot, "replace");
          await next.ready(this.config.readyTimeoutMs).catch(async (error: Error) => {
            await next.exited;
            throw new Error(`reload of ${this.name}@${slot.index} failed: ${error.message}`);
          });
          this.#adopt(slot, next);
          this.#event(
            `instance ${slot.index} replaced by pid ${next.pid}; draining pid ${previous.pid}`,
          );
          await previous.stop(this.config.stopTimeoutMs);
        }
      } finally {
        this.#setStatus(this.#slots.every((s) => s.instance) ? "running" : "restarting");
      }
    });
  }

  /** Starts a sleeping on-demand service; called by its activation socket. */
  wake(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#status === "running") return;
      if (this.#status !== "sleeping") {
        throw new Error(`${this.name} is ${this.#status}`);
      }
      this.#lastActivity = { at: Date.now(), requests: -1 };
      this.#coldStarts += 1;
      await this.#startAll("replace");
      this.#activation?.handOver();
    });
  }

  /** Traffic seen elsewhere (e.g. a proxy holding a connection open): restarts the idle countdown. */
  recordActivity(): void {
    this.#lastActivity = { ...this.#lastActivity, at: Date.now() };
  }

  snapshot(now = Date.now()): ServiceSnapshot {
    const instances = this.#slots.flatMap((slot): InstanceSnapshot[] => {
      const instance = slot.instance;
      if (instance === undefined) return [];
      const figures = instance.figures;
      return [
        {
          index: slot.index,
          pid: instance.pid,
          socketPath: slot.socketPath,
          uptimeMs: now - instance.startedAt,
          inFlight: figures?.inFlight ?? 0,
          memoryBytes: figures?.memoryBytes,
          cpuPercent: figures?.cpuPercent,
          ...summarizeRequests(figures ? [figures.metrics] : []),
        },
      ];
    });
    return {
      name: this.name,
      status: this.#status,
      reason: this.#reason,
      lastLines: this.#status === "errored" ? [...this.#lastLines] : [],
      entry: this.config.entry,
      restarts: this.#restarts,
      logFile: this.#log.path,
      instances,
      ...summarizeRequests(this.metrics),
    };
  }

  /** Closes the log file; call after stop(). */
  close(): void {
    this.#log.close();
  }

  #serialize<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => {});
    return result;
  }

  /** An on-demand service's rest: its activation socket holds the path, the idle check runs. */
  async #goToSleep(): Promise<void> {
    await this.#activation!.listen();
    this.#setStatus("sleeping");
    clearInterval(this.#idleTimer);
    this.#idleTimer = setInterval(() => this.#checkIdle(), IDLE_CHECK_MS).unref();
  }

  async #startAll(listen: HostSettings["listen"]): Promise<void> {
    this.#setStatus("starting");
    try {
      await Promise.all(this.#slots.map((slot) => this.#startSlot(slot, listen)));
      this.#setStatus("running");
    } catch (error) {
      if (this.#status !== "errored") this.#setStatus("stopped");
      await this.#stopInstances();
      throw error;
    }
  }

  /** Starts one slot, retrying by the restart policy until it is ready or crash-loops. */
  async #startSlot(slot: Slot, listen: HostSettings["listen"]): Promise<void> {
    for (;;) {
      const instance = this.#spawn(slot, listen);
      try {
        await instance.ready(this.config.readyTimeoutMs);
        this.#adopt(slot, instance);
        return;
      } catch (error) {
        const exit = await instance.exited;
        const reason = `instance ${slot.index} failed to start: ${(error as Error).message}`;
        this.#event(reason);
        const decision = this.#policy.afterExit(true, exit.uptimeMs);
        if (decision.action !== "restart") {
          this.#fail(decision.action === "crash-loop" ? `${reason}; ${decision.reason}` : reason);
          throw new Error(`${this.name}: ${this.#reason}`);
        }
        this.#restarts += 1;
        await sleep(decision.delayMs, undefined, { signal: this.#running.signal });
      }
    }
  }

  #spawn(slot: Slot, listen: HostSettings["listen"]): Instance {
    return new Instance({
      settings: {
        service: this.name,
        entry: this.config.entry,
        instance: slot.index,
        socketDir: this.#options.socketDir,
        socketPath: slot.socketPath,
        ...(this.#options.tokenFile ? { tokenFile: this.#options.tokenFile } : {}),
        listen,
      },
      env: this.config.env,
      readyTimeoutMs: this.config.readyTimeoutMs,
      onLine: (line) => this.#output(line),
    });
  }

  /** Makes a ready instance the slot's current one and watches for its unexpected exit. */
  #adopt(slot: Slot, instance: Instance): void {
    slot.instance = instance;
    void instance.exited.then((exit) => {
      if (slot.instance !== instance) return; // replaced or stopped on purpose
      slot.instance = undefined;
      this.#event(`instance ${slot.index} (pid ${instance.pid}) exited: ${describeExit(exit)}`);
      const failed = exit.code !== 0;
      const decision = this.#policy.afterExit(failed, exit.uptimeMs);
      if (decision.action === "crash-loop") this.#fail(`${describeExit(exit)}; ${decision.reason}`);
      else if (decision.action === "stay-down") {
        if (this.#liveInstances().length === 0) {
          this.#reason = describeExit(exit);
          this.#setStatus("stopped");
        }
      } else {
        this.#restarts += 1;
        this.#setStatus("restarting");
        this.#event(`restarting instance ${slot.index} in ${Math.round(decision.delayMs)} ms`);
        void sleep(decision.delayMs, undefined, { signal: this.#running.signal })
          .then(() => this.#serialize(() => this.#restartSlot(slot)))
          .catch(() => {});
      }
    });
  }

  async #restartSlot(slot: Slot): Promise<void> {
    if (this.#running.signal.aborted || slot.instance) return;
    await this.#startSlot(slot, "fresh");
    if (this.#slots.every((s) => s.instance)) this.#setStatus("running");
  }

  async #stopInstances(): Promise<number> {
    const instances = this.#slots.flatMap((slot) => {
      const instance = slot.instance;
      slot.instance = undefined;
      return instance ? [instance] : [];
    });
    const outcomes = await Promise.all(instances.map((i) => i.stop(this.config.stopTimeoutMs)));
    return outcomes.filter((o) => !o.drained).length;
  }

  /** Stops an idle on-demand service: the activation socket takes the path back first. */
  #checkIdle(): void {
    if (this.#status !== "running" || !this.config.onDemand) return;
    const now = Date.now();
    const live = this.#liveInstances();
    const requests = summarizeRequests(this.metrics).requests;
    const busy = live.some((i) => (i.figures?.inFlight ?? 1) > 0);
    if (busy || requests !== this.#lastActivity.requests) {
      this.#lastActivity = { at: now, requests };
      return;
    }
    if (now - this.#lastActivity.at < this.config.onDemand.idleMs) return;
    void this.#serialize(async () => {
      if (this.#status !== "running") return;
      this.#event(
        `idle for ${this.config.onDemand ? this.config.onDemand.idleMs : 0} ms; sleeping`,
      );
      this.#setStatus("stopping");
      await this.#activation!.listen();
      await this.#stopInstances();
      this.#setStatus("sleeping");
    }).catch((error: Error) => this.#event(`could not go to sleep: ${error.message}`));
  }

  #liveInstances(): Instance[] {
    return this.#slots.flatMap((s) => (s.instance ? [s.instance] : []));
  }

  #fail(reason: string): void {
    this.#reason = reason;
    this.#setStatus("errored");
  }

  #setStatus(status: ServiceStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#event(status === "errored" ? `errored: ${this.#reason}` : status);
  }

  #output(line: string): void {
    this.#log.writeLine(line);
    this.#lastLines.push(line);
    if (this.#lastLines.length > LAST_LINES) this.#lastLines.shift();
  }

  #event(message: string): void {
    this.#log.writeLine(`[nexus] ${new Date().toISOString()} ${message}`);
    this.#options.onEvent(`${this.name}: ${message}`);
  }
}
