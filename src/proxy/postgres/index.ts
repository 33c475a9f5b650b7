export { type BackendKey, CancelKeyRegistry } from "./cancel-keys.ts";
export {
  PostgresMetrics,
  type StartupOutcome,
} from "./postgres-metrics.ts";
export { type CancelPeering, PostgresProxy, type PostgresProxyOptions } from "./postgres-proxy.ts";
export { type RouteBy, readRoutingKey } from "./routing-key.ts";
export { encodeFatalError, SqlStateError } from "./sql-state-error.ts";
export { parseStartupPacket, type StartupPacket } from "./startup-packet.ts";
