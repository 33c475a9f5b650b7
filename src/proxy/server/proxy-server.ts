// Everything one process of the proxy runs: the core router built from the
// config and one adapter per listener, sharing a metrics registry. A worker
// process holds one; tests and single-process setups can use it directly.
import { isDeepStrictEqual } from "node:util";
import { Registry } from "prom-client";
import type { BackendRouter } from "../core/index.ts";
import { HttpMetrics } from "../http/index.ts";
import type { ListenerConfig, ProxyConfig } from "./config.ts";
import { openListener, type RunningListener } from "./listeners.ts";
import type { ReloadableResolver } from "./reloadable-resolver.ts";
import { createResolver, createRouter } from "./router-factory.ts";
import type { WorkerSlot } from "./worker-slot.ts";

export interface ListenerAddress {
  readonly protocol: ListenerConfig["protocol"];
  readonly host: string;
  readonly port: number;
}

/** Settings that belong to the router: a reload cannot change them in place. */
const RESTART_SETTINGS = [
  "backend",
  "ssrf",
  "breaker",
  "healthCheck",
  "coldStart",
  "workers",
  "workerNodeOptions",
  "metrics",
] as const;

function listenerId(config: ListenerConfig): string {
  return `${config.protocol} ${config.host}:${config.port}`;
}

export class ProxyServer {
  readonly registry = new Registry();
  readonly #router: BackendRouter;
  readonly #resolver: ReloadableResolver;
  readonly #httpMetrics = new HttpMetrics(this.registry);
  readonly #slot: WorkerSlot | undefined;
  #config: ProxyConfig;
  #listeners: RunningListener[] = [];

  private constructor(config: ProxyConfig, slot: WorkerSlot | undefined) {
    this.#config = config;
    this.#slot = slot;
    const { router, resolver } = createRouter(config, this.registry);
    this.#router = router;
    this.#resolver = resolver;
  }

  /**
   * Builds the router and opens every listener; closes what opened if one
   * fails. `slot` says which worker of a supervisor this process is.
   */
  static async start(config: ProxyConfig, slot?: WorkerSlot): Promise<ProxyServer> {
    const server = new ProxyServer(config, slot);
    try {
      for (const [index, listener] of config.listeners.entries()) {
        server.#listeners.push(await server.#open(listener, index));
      }
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  get router(): BackendRouter {
    return this.#router;
  }

  addresses(): ListenerAddress[] {
    return this.#listeners.map(({ config, address }) => ({
      protocol: config.protocol,
      host: config.host,
      port: address.port,
    }));
  }

  /**
   * Applies a new config without dropping connections: the resolver is
   * swapped (open connections keep their backends), listeners that appeared
   * are opened and those that disappeared are closed gracefully. Returns
   * what could not change in place and needs a restart.
   */
  async reload(next: ProxyConfig): Promise<string[]> {
    const warnings: string[] = [];
    for (const key of RESTART_SETTINGS) {
      if (!isDeepStrictEqual(this.#config[key], next[key])) {
        warnings.push(`${key} changed; it applies after a restart`);
      }
    }
    if (!isDeepStrictEqual(this.#config.resolver.cache, next.resolver.cache)) {
      warnings.push("resolver.cache changed; it applies after a restart");
    }
    await this.#resolver.replace(createResolver(next));
    this.#router.invalidate();

    const wanted = new Map(next.listeners.map((config) => [listenerId(config), config]));
    const kept: RunningListener[] = [];
    const closing: Promise<void>[] = [];
    for (const listener of this.#listeners) {
      const id = listenerId(listener.config);
      const config = wanted.get(id);
      if (config === undefined) {
        closing.push(listener.close(next.drainTimeoutMs));
        continue;
      }
      if (!isDeepStrictEqual(config, listener.config)) {
        warnings.push(`listener ${id} changed; its options apply after a restart`);
      }
      kept.push(listener);
      wanted.delete(id);
    }
    for (const config of wanted.values()) {
      kept.push(await this.#open(config, next.listeners.indexOf(config)));
    }
    this.#listeners = kept;
    this.#config = next;
    await Promise.all(closing);
    return warnings;
  }

  #open(config: ListenerConfig, index: number): Promise<RunningListener> {
    return openListener(config, this.#router, this.#httpMetrics, { slot: this.#slot, index });
  }

  /** Stops accepting, lets open connections finish, then stops the router. */
  async close(): Promise<void> {
    const listeners = this.#listeners;
    this.#listeners = [];
    const { drainTimeoutMs } = this.#config;
    await Promise.all(listeners.map((listener) => listener.close(drainTimeoutMs)));
    await this.#router.close();
  }
}
