// Builds the proxy core from a config: the resolver it names and the
// BackendRouter (cache, SSRF guard, breakers, health checks, cold start)
// around it.

import { pino } from "pino";
import type { Registry } from "prom-client";
import { BackendRouter, FileResolver, type Resolver, StaticResolver } from "../core/index.ts";
import type { ProxyConfig } from "./config.ts";
import { ReloadableResolver } from "./reloadable-resolver.ts";

export function createResolver(config: ProxyConfig): Resolver {
  const { routes, file } = config.resolver;
  if (file !== undefined) {
    return new FileResolver({ path: file, logger: pino({ name: "nexus-routes" }) });
  }
  return new StaticResolver(routes ?? {});
}

/** A router whose resolver can be swapped on reload. */
export function createRouter(
  config: ProxyConfig,
  registry: Registry,
): { router: BackendRouter; resolver: ReloadableResolver } {
  const resolver = new ReloadableResolver(createResolver(config));
  const router = new BackendRouter({
    resolver,
    connectTimeoutMs: config.backend.connectTimeoutMs,
    cache: config.resolver.cache,
    ssrf: config.ssrf.enabled ? { allow: config.ssrf.allow } : false,
    breaker: config.breaker,
    healthCheck: config.healthCheck,
    coldStart: config.coldStart,
    metrics: registry,
  });
  return { router, resolver };
}
