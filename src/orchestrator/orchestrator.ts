// The orchestrator: one supervisor per service, started in dependsOn order
// and stopped in reverse, a control socket for the CLI, the gateway with
// /metrics, and the proxy listeners whose resolver it is. It owns no process
// of its own beyond the services it forks.

import { Gateway } from "../gateway/gateway.ts";
import { ensureSocketDir, loadOrCreateToken, tokenPathFor } from "../security/index.ts";
import { probeSocket } from "../transport/index.ts";
import type { LoadedConfig } from "./config-file.ts";
import {
  ControlError,
  type ControlRequest,
  ControlServer,
  controlSocketPath,
} from "./control-server.ts";
import { startWaves } from "./dependency-order.ts";
import { PrometheusMetrics } from "./prometheus.ts";
import { ProxyListeners } from "./proxy-listeners.ts";
import { type ServiceSnapshot, ServiceSupervisor } from "./service-supervisor.ts";

export interface OrchestratorInfo {
  readonly config: string;
  readonly socketDir: string;
  readonly tokenFile: string;
  readonly gateway: string | undefined;
  /** `http://host:port` of each proxy listener. */
  readonly proxy: readonly string[];
  readonly pid: number;
}

/** A service as `nexus status` shows it: its snapshot, its cold starts, the proxy URLs that reach it. */
export interface ServiceReport extends ServiceSnapshot {
  readonly coldStarts: number;
  readonly routes: readonly string[];
}

export interface StopOutcome {
  /** Instances that did not drain before their deadline (requests cut, or killed). */
  readonly notDrained: number;
}

export class OrchestratorRunningError extends Error {
  constructor(path: string) {
    super(`an orchestrator is already running on ${path}; stop it first (nexus stop)`);
    this.name = "OrchestratorRunningError";
  }
}

export class Orchestrator {
  readonly config: LoadedConfig;
  readonly supervisors: ReadonlyMap<string, ServiceSupervisor>;
  readonly metrics: PrometheusMetrics;
  readonly #waves: string[][];
  readonly #control: ControlServer;
  readonly #onEvent: (line: string) => void;
  #gateway: Gateway | undefined;
  #proxy: ProxyListeners | undefined;
  #tokenFile: string;
  #stopping: Promise<StopOutcome> | undefined;
  /** Resolves when a stop was requested over the control socket. */
  readonly stopRequested: Promise<void>;
  #requestStop: () => void = () => {};

  constructor(config: LoadedConfig, onEvent: (line: string) => void = () => {}) {
    this.config = config;
    this.#onEvent = onEvent;
    this.#tokenFile = config.tokenFile ?? tokenPathFor(config.socketDir);
    const supervisors = new Map<string, ServiceSupervisor>();
    for (const [name, service] of Object.entries(config.services)) {
      supervisors.set(
        name,
        new ServiceSupervisor({
          name,
          config: service,
          socketDir: config.socketDir,
          tokenFile: config.tokenFile,
          logs: config.logs,
          onEvent,
        }),
      );
    }
    this.supervisors = supervisors;
    this.metrics = new PrometheusMetrics([...supervisors.values()]);
    this.#waves = startWaves(
      Object.fromEntries(Object.entries(config.services).map(([n, s]) => [n, s.dependsOn])),
    );
    this.#control = new ControlServer(controlSocketPath(config.socketDir), (r) => this.#command(r));
    this.stopRequested = new Promise((resolve) => {
      this.#requestStop = resolve;
    });
  }

  /** The proxy listeners, when the config has a `proxy` section and the orchestrator started. */
  get proxy(): ProxyListeners | undefined {
    return this.#proxy;
  }

  get gatewayUrl(): string | undefined {
    return this.#gateway?.url;
  }

  /**
   * Takes the control socket, starts the services wave by wave (a service
   * whose dependency failed is not started), then the gateway. Services that
   * fail are left errored and reported; the orchestrator keeps running.
   */
  async start(): Promise<void> {
    await ensureSocketDir(this.config.socketDir);
    if ((await probeSocket(this.#control.path)) === "live") {
      throw new OrchestratorRunningError(this.#control.path);
    }
    await this.#control.listen();
    const token = await loadOrCreateToken(this.#tokenFile);
    const failed = new Set<string>();
    for (const wave of this.#waves) {
      await Promise.all(
        wave.map(async (name) => {
          const supervisor = this.supervisors.get(name)!;
          const missing = supervisor.config.dependsOn.filter((d) => failed.has(d));
          if (missing.length > 0) {
            failed.add(name);
            this.#onEvent(`${name}: not started, its dependency ${missing.join(", ")} failed`);
            return;
          }
          await supervisor.start().catch(() => failed.add(name));
        }),
      );
    }
    const gateway = this.config.gateway;
    if (gateway) {
      const routes =
        gateway.routes ??
        [...this.supervisors.keys()].map((service) => ({
          prefix: `/${service}`,
          service,
          public: false,
        }));
      this.#gateway = new Gateway({
        host: gateway.host,
        port: gateway.port,
        routes,
        timeoutMs: gateway.timeoutMs,
        token,
        services: this.supervisors,
        metrics: async () => ({
          contentType: this.metrics.contentType,
          text: `${await this.metrics.text()}${(await this.#proxy?.router.metrics.registry.metrics()) ?? ""}`,
        }),
      });
      await this.#gateway.listen();
    }
    if (this.config.proxy) {
      this.#proxy = new ProxyListeners(this.config.proxy, this.supervisors, this.config.socketDir);
      await this.#proxy.listen();
    }
  }

  /** Proxy and gateway first, then services in reverse start order, then the control socket. */
  stop(): Promise<StopOutcome> {
    this.#stopping ??= (async () => {
      await this.#proxy?.close();
      await this.#gateway?.close();
      let notDrained = 0;
      for (const wave of [...this.#waves].reverse()) {
        const counts = await Promise.all(wave.map((name) => this.supervisors.get(name)!.stop()));
        notDrained += counts.reduce((a, b) => a + b, 0);
      }
      for (const supervisor of this.supervisors.values()) supervisor.close();
      await this.#control.close();
      return { notDrained };
    })();
    return this.#stopping;
  }

  /** Rolling reload of one service, or of all in start order; refused once stopping. */
  async reload(service?: string): Promise<void> {
    if (this.#stopping) throw new ControlError("the orchestrator is stopping: nothing to reload");
    const names = service === undefined ? this.#waves.flat() : [this.#supervisor(service).name];
    for (const name of names) await this.supervisors.get(name)!.reload();
  }

  status(): ServiceReport[] {
    return [...this.supervisors.values()].map((s) => ({
      ...s.snapshot(),
      coldStarts: s.coldStarts,
      routes: this.#proxy?.routesOf(s.name) ?? [],
    }));
  }

  info(): OrchestratorInfo {
    return {
      config: this.config.file,
      socketDir: this.config.socketDir,
      tokenFile: this.#tokenFile,
      gateway: this.gatewayUrl,
      proxy: this.#proxy?.urls ?? [],
      pid: process.pid,
    };
  }

  #supervisor(name: string | undefined): ServiceSupervisor {
    const supervisor = name === undefined ? undefined : this.supervisors.get(name);
    if (supervisor === undefined) {
      const known = [...this.supervisors.keys()].join(", ");
      const which = name === undefined ? "no service named" : `unknown service "${name}"`;
      throw new ControlError(`${which} (services are: ${known})`);
    }
    return supervisor;
  }

  async #command(request: ControlRequest): Promise<unknown> {
    switch (request.command) {
      case "status":
        return this.status();
      case "info":
        return this.info();
      case "reload":
        await this.reload(request.service);
        return this.status();
      case "logs":
        return { file: this.#supervisor(request.service).logFile };
      case "stop":
        this.#requestStop();
        return { stopping: true };
      default:
        throw new ControlError(`unknown command "${request.command}"`);
    }
  }
}
