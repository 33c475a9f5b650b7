export { ActivityTracker } from "./activity-tracker.ts";
export {
  type Admission,
  BackendRouter,
  type BackendRouterOptions,
  type ConnectOptions,
  type Route,
  type RouteLookupOptions,
} from "./backend-router.ts";
export {
  type BreakerPass,
  type BreakerState,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from "./circuit-breaker.ts";
export { ColdStartGate, type ColdStartOptions } from "./cold-start-gate.ts";
export {
  type Endpoint,
  EndpointSyntaxError,
  formatEndpoint,
  parseEndpoint,
  resultEndpoint,
} from "./endpoint.ts";
export {
  FileResolver,
  type FileResolverOptions,
  loadRoutesFile,
  RoutesFileError,
  type RoutesLogger,
  routeValueSchema,
} from "./file-resolver.ts";
export { HealthChecker, type HealthCheckOptions } from "./health-checker.ts";
export { embeddedIPv4, type HostNotation, HostNotationError, readHost } from "./ip-address.ts";
export { KernelSplice, type MysqlFraming } from "./kernel-splice.ts";
export { ProxyMetrics } from "./proxy-metrics.ts";
export { type CommandWatch, type RelayTotals, relay } from "./relay.ts";
export type { ProtocolName, ResolveContext, Resolver, ResolverStats, Result } from "./resolver.ts";
export {
  ResolverError,
  type ResolverErrorCode,
  type ResolverErrorOptions,
  type ResolverErrorReason,
  toResolverError,
  unknownRoute,
} from "./resolver-error.ts";
export { RouteCache, type RouteCacheOptions } from "./route-cache.ts";
export {
  BLOCKED_RANGES,
  LOOPBACK_RANGES,
  SsrfGuard,
  type SsrfGuardOptions,
} from "./ssrf-guard.ts";
export { StaticResolver, type StaticRoutes } from "./static-resolver.ts";
export { type UndiciConnector, undiciConnector } from "./undici-connector.ts";
export { type RouteValue, WildcardTable } from "./wildcard-table.ts";
