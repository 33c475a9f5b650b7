export { Client, type ClientOptions } from "./client.ts";
export { DEFAULT_LIMITS, type ServerLimits } from "./limits.ts";
export { type DrainOptions, type ServeOptions, ServiceServer, serve } from "./server.ts";
export type { RequestOutcome, StatsSnapshot } from "./server-stats.ts";
export { ServiceClient } from "./service-client.ts";
export {
  type BoundSocket,
  bindSocket,
  probeSocket,
  releaseSocket,
  SocketInUseError,
} from "./socket-binding.ts";
