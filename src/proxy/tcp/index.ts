export {
  ConnectionListener,
  type ConnectionListenerOptions,
} from "./connection-listener.ts";
export { type OpenedBackend, openBackend } from "./open-backend.ts";
export { TcpPortProxy, type TcpPortProxyOptions } from "./tcp-port-proxy.ts";
