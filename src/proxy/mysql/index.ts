export { MysqlMetrics } from "./mysql-metrics.ts";
export { DEFAULT_SERVER_VERSION, MysqlProxy, type MysqlProxyOptions } from "./mysql-proxy.ts";
