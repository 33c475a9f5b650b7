// The shape of a Nexus configuration (nexus.config.ts or YAML), validated
// with zod. `defineConfig` types what a user writes; `configSchema` turns it
// into a resolved config with every default filled in.
import { z } from "zod";

/** Service names become socket file names and CLI arguments: keep them plain. */
const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, "expected a lowercase name of letters, digits and dashes");

const milliseconds = z.int().min(0);

const restartSchema = z.strictObject({
  /** `on-failure` restarts after a non-zero exit or a signal; `always` after any exit. */
  policy: z.enum(["always", "on-failure", "never"]).default("on-failure"),
  /** This many restarts within `windowMs` mark the service `errored`. */
  maxRestarts: z.int().min(1).default(5),
  windowMs: milliseconds.default(60_000),
});

const onDemandSchema = z.strictObject({
  /** Stop the service after this long without a request. */
  idleMs: milliseconds.default(300_000),
  /** How long the first caller may wait for the service to become ready. */
  startTimeoutMs: milliseconds.default(15_000),
});

const serviceSchema = z.strictObject({
  /** Module whose default export is a `defineService(...)` value, relative to the config file. */
  entry: z.string().min(1),
  instances: z.int().min(1).max(64).default(1),
  env: z.record(z.string(), z.string()).default({}),
  restart: restartSchema.default(restartSchema.parse({})),
  dependsOn: z.array(serviceName).default([]),
  /** Absent or false: started with the orchestrator. */
  onDemand: z.union([z.literal(false), onDemandSchema]).default(false),
  /** How long a stopping instance may drain before it is killed. */
  stopTimeoutMs: milliseconds.default(10_000),
  /** How long a starting instance may take to listen. */
  readyTimeoutMs: milliseconds.default(15_000),
});

const gatewayRouteSchema = z.strictObject({
  /** Path prefix on the gateway, e.g. `/api/users`. */
  prefix: z.string().regex(/^\/[^?#]*$/, "expected a path starting with /"),
  service: serviceName,
  /** Open to callers without a token; the gateway then calls the service with its own token. */
  public: z.boolean().default(false),
});

const gatewaySchema = z.strictObject({
  host: z.string().default("127.0.0.1"),
  port: z.int().min(0).max(65_535).default(8080),
  /** Explicit route table; absent means `/<service>` for each service. */
  routes: z.array(gatewayRouteSchema).optional(),
  /** How long a proxied call may take before the gateway answers 504. */
  timeoutMs: milliseconds.default(30_000),
});

const proxyListenerSchema = z.strictObject({
  host: z.string().default("127.0.0.1"),
  port: z.int().min(0).max(65_535),
});

const proxySchema = z.strictObject({
  /** HTTP listeners; each routes by Host to the services. */
  listeners: z.array(proxyListenerSchema).min(1),
  /** Every service answers at `<service>.<domain>`; false: only at `hosts`. */
  domain: z.union([z.literal(false), z.string().regex(/^[a-z0-9.-]+$/i)]).default("localhost"),
  /** Extra host names, each naming a service: `{ "shop.example.com": "storefront" }`. */
  hosts: z.record(z.string().min(1), serviceName).default({}),
  /** How long requests wait for a sleeping service to wake before a 504. */
  coldStartTimeoutMs: milliseconds.default(30_000),
});

const logsSchema = z.strictObject({
  /** Folder for `<service>.log` files, relative to the config file. */
  dir: z.string().default(".nexus/logs"),
  /** Rotate a service's log file when it grows past this size. */
  maxBytes: z
    .int()
    .min(1024)
    .default(10 * 1024 * 1024),
  /** Rotated files to keep (`users.log.1` … `users.log.N`). */
  keep: z.int().min(0).max(100).default(5),
});

export const configSchema = z.strictObject({
  /** Where sockets and the token live; defaults to NEXUS_SOCKET_DIR, else /tmp/nexus. */
  socketDir: z.string().optional(),
  tokenFile: z.string().optional(),
  services: z.record(serviceName, serviceSchema),
  gateway: z.union([z.literal(false), gatewaySchema]).default(false),
  /** The edge proxy in front of the services, run in the orchestrator's process. */
  proxy: z.union([z.literal(false), proxySchema]).default(false),
  logs: logsSchema.default(logsSchema.parse({})),
  /** Lines `nexus up` prints once everything runs; `{gateway}`, `{proxy}` and `{socketDir}` are filled in. */
  hints: z.array(z.string()).default([]),
});

/** What a config file may contain (defaults optional). */
export type NexusConfigInput = z.input<typeof configSchema>;
/** A validated config with every default filled in. */
export type NexusConfig = z.output<typeof configSchema>;
export type ServiceConfig = NexusConfig["services"][string];
export type GatewayConfig = Exclude<NexusConfig["gateway"], false>;
export type GatewayRoute = z.output<typeof gatewayRouteSchema>;
export type LogsConfig = NexusConfig["logs"];
export type ProxyConfig = Exclude<NexusConfig["proxy"], false>;

/** Types a `nexus.config.ts` default export; returns it unchanged. */
export function defineConfig(config: NexusConfigInput): NexusConfigInput {
  return config;
}
