export {
  BackendRouter,
  type BackendRouterOptions,
  type ConnectOptions,
  type Route,
} from "./backend-router.ts";
export { type Endpoint, EndpointSyntaxError, formatEndpoint, parseEndpoint } from "./endpoint.ts";
export { type RelayTotals, relay } from "./relay.ts";
export type { ProtocolName, ResolveContext, Resolver, ResolverStats, Result } from "./resolver.ts";
export {
  ResolverError,
  type ResolverErrorCode,
  type ResolverErrorOptions,
  type ResolverErrorReason,
  toResolverError,
} from "./resolver-error.ts";
export { StaticResolver, type StaticRoutes } from "./static-resolver.ts";
