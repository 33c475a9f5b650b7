export {
  configSchema,
  defineConfig,
  type GatewayConfig,
  type GatewayRoute,
  type LogsConfig,
  type NexusConfig,
  type NexusConfigInput,
  type ServiceConfig,
} from "./config.ts";
export { ConfigError, type LoadedConfig, loadConfig, parseConfig } from "./config-file.ts";
export type { ConfigProblem } from "./config-references.ts";
export {
  CONTROL_SOCKET_NAME,
  ControlError,
  type ControlReply,
  type ControlRequest,
  ControlServer,
  controlSocketPath,
} from "./control-server.ts";
export { DependencyCycleError, startWaves } from "./dependency-order.ts";
export {
  Orchestrator,
  type OrchestratorInfo,
  OrchestratorRunningError,
  type ServiceReport,
  type StopOutcome,
} from "./orchestrator.ts";
export {
  OrchestratorResolver,
  type OrchestratorResolverOptions,
  type ResolvableService,
} from "./orchestrator-resolver.ts";
export { ProxyListeners } from "./proxy-listeners.ts";
export {
  type InstanceSnapshot,
  type ServiceSnapshot,
  type ServiceStatus,
  ServiceSupervisor,
  type ServiceSupervisorOptions,
} from "./service-supervisor.ts";
