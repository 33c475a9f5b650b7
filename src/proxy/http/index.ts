export type { PoolOptions } from "./backend-pools.ts";
export { routingKeyFromHost } from "./host.ts";
export { HttpMetrics } from "./http-metrics.ts";
export {
  type HttpLimits,
  type HttpListenOptions,
  HttpProxy,
  type HttpProxyOptions,
} from "./http-proxy.ts";
