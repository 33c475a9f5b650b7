export { BackendPools, type PoolOptions } from "./backend-pools.ts";
export { routingKeyFromHost } from "./host.ts";
export { HttpMetrics } from "./http-metrics.ts";
export {
  type HttpLimits,
  HttpProxy,
  type HttpProxyOptions,
  type ListenOptions,
} from "./http-proxy.ts";
