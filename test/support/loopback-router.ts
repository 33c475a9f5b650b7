// A BackendRouter over fixed routes whose SSRF guard lets loopback through,
// since every test backend listens on 127.0.0.1.
import {
  BackendRouter,
  type BackendRouterOptions,
  LOOPBACK_RANGES,
  type Resolver,
  StaticResolver,
  type StaticRoutes,
} from "../../src/proxy/core/index.ts";

export function loopbackRouter(
  routes: StaticRoutes | Resolver,
  options: Partial<BackendRouterOptions> = {},
): BackendRouter {
  const resolver = "resolve" in routes ? (routes as Resolver) : new StaticResolver(routes);
  return new BackendRouter({ resolver, ssrf: { allow: LOOPBACK_RANGES }, ...options });
}
