export {
  type ListenerConfig,
  loadProxyConfig,
  type ProxyConfig,
  ProxyConfigError,
  parseProxyConfig,
  proxyConfigSchema,
} from "./config.ts";
export { type ListenerAddress, ProxyServer } from "./proxy-server.ts";
export { ProxySupervisor, type SupervisorOptions } from "./supervisor.ts";
