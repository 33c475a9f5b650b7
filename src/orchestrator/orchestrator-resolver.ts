// The orchestrator as the edge proxy's Resolver. An HTTP host names a
// supervised service (`<service>.localhost`, or a host configured for it);
// the answer is the service's own Unix socket, whose HTTP dialect serves the
// request directly. An on-demand service that sleeps answers `asleep`, and
// the proxy's wake hook starts it; traffic the proxy sees keeps it awake.
import {
  type Resolver,
  ResolverError,
  type ResolverStats,
  type Result,
  unknownRoute,
} from "../proxy/core/index.ts";
import { socketPathFor } from "../security/index.ts";
import type { ServiceSupervisor } from "./service-supervisor.ts";

/** What the resolver reads and asks of a supervised service. */
export type ResolvableService = Pick<
  ServiceSupervisor,
  "name" | "status" | "config" | "readySockets" | "wake" | "recordActivity"
>;

export interface OrchestratorResolverOptions {
  readonly services: ReadonlyMap<string, ResolvableService>;
  readonly socketDir: string;
  /** Extra host names, each naming a service: `{ "shop.example.test": "storefront" }`. */
  readonly hosts?: Readonly<Record<string, string>>;
  /** Every service also answers at `<service>.<domain>`; false turns that off. Default `localhost`. */
  readonly domain?: string | false;
}

/** When a caller may try again a service that is down until someone acts (errored, stopped). */
const DOWN_RETRY_MS = 30_000;

export class OrchestratorResolver implements Resolver {
  readonly #services: ReadonlyMap<string, ResolvableService>;
  readonly #socketDir: string;
  readonly #hosts: ReadonlyMap<string, string>;
  readonly #domainSuffix: string | undefined;
  /** Proxy connections open per socket path, to send new ones to the least loaded instance. */
  readonly #open = new Map<string, number>();

  constructor(options: OrchestratorResolverOptions) {
    this.#services = options.services;
    this.#socketDir = options.socketDir;
    const domain = options.domain ?? "localhost";
    this.#domainSuffix = domain === false ? undefined : `.${domain.toLowerCase()}`;
    const hosts = new Map<string, string>();
    for (const [host, service] of Object.entries(options.hosts ?? {})) {
      if (!this.#services.has(service)) {
        throw new Error(`host ${host} names an unknown service "${service}"`);
      }
      hosts.set(host.toLowerCase(), service);
    }
    this.#hosts = hosts;
  }

  /** The host names that reach `service`, configured ones first. */
  hostsOf(service: string): string[] {
    const names = [...this.#hosts].filter(([, name]) => name === service).map(([host]) => host);
    if (this.#domainSuffix !== undefined) names.push(`${service}${this.#domainSuffix}`);
    return names;
  }

  resolve(host: string): Result {
    const service = this.#serviceFor(host);
    const ready = service.readySockets;
    switch (service.status) {
      case "running":
      case "reloading":
      case "restarting":
        // A restarting service with no instance left waits like a sleeping one.
        if (ready.length > 0) return { endpoint: `unix:${this.#leastLoaded(ready)}` };
        return this.#asleep(service);
      case "starting":
      case "sleeping":
        return this.#asleep(service);
      case "stopping":
        // An idle stop: the request waits for the restart that follows it.
        if (service.config.onDemand) return this.#asleep(service);
        throw down(service, 1000);
      case "stopped":
      case "errored":
        throw down(service, DOWN_RETRY_MS);
    }
  }

  /**
   * Called once for all the connections waiting on a sleeping service. The
   * supervisor runs lifecycle operations one at a time, so concurrent
   * wake-ups start it once, and one asked for during an idle stop starts the
   * service once that stop is done. A service that is restarting on its own
   * is simply waited for (the proxy polls); a failed one is not retried.
   */
  async wake(host: string): Promise<void> {
    const service = this.#serviceFor(host);
    const status = service.status;
    const wakeable = status === "sleeping" || status === "stopping" || status === "starting";
    if (service.config.onDemand && wakeable) await service.wake();
  }

  trackActivity(host: string): void {
    this.#lookup(host)?.recordActivity();
  }

  onConnect(_host: string, result: Result): void {
    const path = socketOf(result);
    this.#open.set(path, (this.#open.get(path) ?? 0) + 1);
  }

  onDisconnect(_host: string, result: Result): void {
    const path = socketOf(result);
    const count = (this.#open.get(path) ?? 1) - 1;
    if (count > 0) this.#open.set(path, count);
    else this.#open.delete(path);
  }

  getStats(): ResolverStats {
    const stats: Record<string, string> = {};
    for (const name of this.#services.keys()) {
      stats[`${name}.status`] = this.#services.get(name)!.status;
    }
    return stats;
  }

  #serviceFor(host: string): ResolvableService {
    const service = this.#lookup(host);
    if (service === undefined) throw unknownRoute(host);
    return service;
  }

  #lookup(host: string): ResolvableService | undefined {
    const configured = this.#hosts.get(host);
    if (configured !== undefined) return this.#services.get(configured);
    const suffix = this.#domainSuffix;
    if (suffix === undefined || !host.endsWith(suffix)) return undefined;
    return this.#services.get(host.slice(0, -suffix.length));
  }

  #asleep(service: ResolvableService): Result {
    return { endpoint: `unix:${socketPathFor(this.#socketDir, service.name)}`, asleep: true };
  }

  #leastLoaded(sockets: readonly string[]): string {
    let best = sockets[0]!;
    let bestLoad = this.#open.get(best) ?? 0;
    for (const socket of sockets) {
      const load = this.#open.get(socket) ?? 0;
      if (load < bestLoad) [best, bestLoad] = [socket, load];
    }
    return best;
  }
}

function down(service: ResolvableService, retryAfterMs: number): ResolverError {
  return new ResolverError("UNAVAILABLE", `service ${service.name} is ${service.status}`, {
    retryAfterMs,
  });
}

function socketOf(result: Result): string {
  return result.endpoint.slice("unix:".length);
}
