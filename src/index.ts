// The public API of Nexus, one re-export per capability folder.

// Running services: the orchestrator and the REST gateway.
export * from "./gateway/index.ts";
export * from "./orchestrator/index.ts";

// The edge proxy: the core every protocol shares, then one folder per protocol.
export * from "./proxy/core/index.ts";
export * from "./proxy/http/index.ts";
export * from "./proxy/mysql/index.ts";
export * from "./proxy/postgres/index.ts";
export * from "./proxy/server/index.ts";
export * from "./proxy/smtp/index.ts";
export * from "./proxy/tcp/index.ts";
export * from "./proxy/tls/index.ts";
// The mesh: wire protocol, typed services, client and server, security.
export * from "./security/index.ts";
export * from "./service/index.ts";
export * from "./transport/index.ts";
export * from "./wire/index.ts";
