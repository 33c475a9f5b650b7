// The HTTP proxy listeners of a configuration, run inside the orchestrator's
// own process: their resolver is the orchestrator, so `<service>.localhost`
// reaches each service's socket and a request for a sleeping on-demand
// service wakes it. See docs/one-system.md for why they run in-process.
import { BackendRouter } from "../proxy/core/index.ts";
import { HttpMetrics, HttpProxy } from "../proxy/http/index.ts";
import type { ProxyConfig } from "./config.ts";
import { OrchestratorResolver, type ResolvableService } from "./orchestrator-resolver.ts";

/**
 * Open proxy connections count as traffic when they open or close, not
 * periodically: the proxy's pool keeps idle connections open for a while
 * after the last request, which must not keep the service awake.
 * Requests keep it awake through the service's own figures.
 */
const NO_ACTIVITY_TICKS_MS = 2 ** 31 - 1;

export class ProxyListeners {
  readonly resolver: OrchestratorResolver;
  readonly router: BackendRouter;
  readonly #config: ProxyConfig;
  readonly #proxies: HttpProxy[];
  #urls: string[] = [];

  constructor(
    config: ProxyConfig,
    services: ReadonlyMap<string, ResolvableService>,
    socketDir: string,
  ) {
    this.#config = config;
    this.resolver = new OrchestratorResolver({
      services,
      socketDir,
      hosts: config.hosts,
      domain: config.domain,
    });
    this.router = new BackendRouter({
      resolver: this.resolver,
      coldStart: { timeoutMs: config.coldStartTimeoutMs },
      activityIntervalMs: NO_ACTIVITY_TICKS_MS,
    });
    const metrics = new HttpMetrics(this.router.metrics.registry);
    this.#proxies = config.listeners.map(() => new HttpProxy({ router: this.router, metrics }));
  }

  /** `http://host:port` of each listener, once listening. */
  get urls(): readonly string[] {
    return this.#urls;
  }

  /** The URLs that reach `service`: each of its host names on each listener's port. */
  routesOf(service: string): string[] {
    const hosts = this.resolver.hostsOf(service);
    return this.#proxies.flatMap((proxy) => {
      const { port } = proxy.address();
      return hosts.map((host) => `http://${host}:${port}`);
    });
  }

  async listen(): Promise<void> {
    const urls: string[] = [];
    for (const [index, listener] of this.#config.listeners.entries()) {
      const { address, port } = await this.#proxies[index]!.listen(listener.port, listener.host);
      urls.push(`http://${address.includes(":") ? `[${address}]` : address}:${port}`);
    }
    this.#urls = urls;
  }

  /** Lets requests in flight finish, then releases the router. */
  async close(): Promise<void> {
    await Promise.all(this.#proxies.map((proxy) => proxy.close()));
    await this.router.close();
  }
}
