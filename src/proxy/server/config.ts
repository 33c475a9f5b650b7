// The proxy's configuration file (YAML or JSON): listeners per protocol, the
// resolver, limits, SSRF allowlist, health checks, cold start, metrics. It is
// validated as a whole and every mistake is reported with its key path, so a
// bad file (or a bad reload) never reaches the running proxy.
import { readFileSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { z } from "zod";
import { routeValueSchema, WildcardTable } from "../core/index.ts";

const ms = z.number().int().nonnegative();
const positiveMs = z.number().int().positive();
const port = z.number().int().min(0).max(65535);
const host = z.string().min(1).default("127.0.0.1");

/** Certificate and key files for listeners that terminate TLS. */
const tlsFiles = z.strictObject({ cert: z.string().min(1), key: z.string().min(1) });

const listenerBase = { port, host, maxConnections: z.number().int().positive().optional() };

const httpListener = z.strictObject({
  protocol: z.literal("http"),
  ...listenerBase,
  telemetryHeaders: z.boolean().default(false),
  via: z.string().min(1).optional(),
  limits: z
    .strictObject({
      maxHeaderBytes: z.number().int().min(1024).optional(),
      headersTimeoutMs: positiveMs.optional(),
      requestTimeoutMs: positiveMs.optional(),
      idleTimeoutMs: ms.optional(),
      keepAliveTimeoutMs: positiveMs.optional(),
      maxBodyBytes: z.number().int().nonnegative().optional(),
      backendResponseTimeoutMs: positiveMs.optional(),
      backendIdleTimeoutMs: positiveMs.optional(),
    })
    .default({}),
  pool: z
    .strictObject({
      connections: z.number().int().positive().optional(),
      keepAliveTimeoutMs: positiveMs.optional(),
    })
    .default({}),
});

const postgresListener = z.strictObject({
  protocol: z.literal("postgres"),
  ...listenerBase,
  routeBy: z
    .union([z.enum(["database", "user", "sni"]), z.strictObject({ option: z.string().min(1) })])
    .optional(),
  tls: tlsFiles.optional(),
  /** Speak TLS to TCP backends (SSLRequest exchange first). */
  backendTls: z.boolean().optional(),
  startupTimeoutMs: positiveMs.optional(),
  /** Relay sessions in the kernel after their startup, where the machine allows it (default true). */
  kernelSplice: z.boolean().optional(),
});

const mysqlListener = z.strictObject({
  protocol: z.literal("mysql"),
  ...listenerBase,
  tls: tlsFiles.optional(),
  requireTls: z.boolean().optional(),
  defaultRoute: z.string().min(1).optional(),
  serverVersion: z.string().min(1).optional(),
  handshakeTimeoutMs: positiveMs.optional(),
  /** Relay sessions through the kernel, where the machine allows it (default true). */
  kernelSplice: z.boolean().optional(),
});

const smtpListener = z.strictObject({
  protocol: z.literal("smtp"),
  ...listenerBase,
  routeBy: z.enum(["ehlo", "recipient"]).optional(),
  hostname: z.string().min(1).optional(),
  tls: tlsFiles.optional(),
  backendTls: z.boolean().optional(),
  maxLineLength: z.number().int().positive().optional(),
  maxMessageSize: z.number().int().positive().optional(),
  idleTimeoutMs: positiveMs.optional(),
  relayIdleTimeoutMs: positiveMs.optional(),
  backendTimeoutMs: positiveMs.optional(),
});

const tlsListener = z.strictObject({
  protocol: z.literal("tls"),
  ...listenerBase,
  defaultRoute: z.string().min(1).optional(),
  maxClientHelloBytes: z.number().int().positive().optional(),
  helloTimeoutMs: positiveMs.optional(),
  /** Relay connections in the kernel, where the machine allows it (default true). */
  kernelSplice: z.boolean().optional(),
});

const tcpListener = z.strictObject({
  protocol: z.literal("tcp"),
  ...listenerBase,
  /** The routing key every connection on this port is resolved with. */
  route: z.string().min(1),
  /** Relay connections in the kernel, where the machine allows it (default true). */
  kernelSplice: z.boolean().optional(),
});

const listener = z.discriminatedUnion("protocol", [
  httpListener,
  postgresListener,
  mysqlListener,
  smtpListener,
  tlsListener,
  tcpListener,
]);

const resolverConfig = z
  .strictObject({
    /** Static routes: routing key (wildcards like `*.example.com` allowed) to backend. */
    routes: z.record(z.string().min(1), routeValueSchema).optional(),
    /** A YAML or JSON routes file, watched and reloaded on change. */
    file: z.string().min(1).optional(),
    cache: z
      .union([
        z.literal(false),
        z.strictObject({
          ttlMs: ms.optional(),
          maxEntries: z.number().int().positive().optional(),
          negativeTtlMs: ms.optional(),
        }),
      ])
      .optional(),
  })
  .refine((value) => (value.routes === undefined) !== (value.file === undefined), {
    message: "give exactly one of resolver.routes or resolver.file",
  });

export const proxyConfigSchema = z.strictObject({
  /** Worker processes sharing every listener's port (default: 1). */
  workers: z.number().int().min(1).max(256).default(1),
  /** Extra Node options for the workers, e.g. `--max-semi-space-size=2` to trade throughput for memory. */
  workerNodeOptions: z.array(z.string().startsWith("--")).default([]),
  /** How long in-flight work may take to finish on SIGTERM. */
  drainTimeoutMs: positiveMs.default(10_000),
  listeners: z.array(listener).min(1),
  resolver: resolverConfig,
  backend: z.strictObject({ connectTimeoutMs: positiveMs.optional() }).default({}),
  ssrf: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** CIDR ranges (or single addresses) allowed although the guard blocks them. */
      allow: z.array(z.string().min(1)).default([]),
    })
    .default({ enabled: true, allow: [] }),
  breaker: z
    .union([
      z.literal(false),
      z.strictObject({
        consecutiveFailures: z.number().int().positive().optional(),
        errorRatio: z.number().gt(0).max(1).optional(),
        minimumRequests: z.number().int().positive().optional(),
        windowMs: positiveMs.optional(),
        openMs: positiveMs.optional(),
        maxOpenMs: positiveMs.optional(),
      }),
    ])
    .optional(),
  healthCheck: z
    .strictObject({
      intervalMs: positiveMs.optional(),
      timeoutMs: positiveMs.optional(),
      rise: z.number().int().positive().optional(),
      fall: z.number().int().positive().optional(),
      http: z
        .strictObject({
          path: z.string().startsWith("/"),
          expectStatus: z.number().int().min(100).max(599).optional(),
          host: z.string().min(1).optional(),
        })
        .optional(),
    })
    .optional(),
  coldStart: z
    .strictObject({
      timeoutMs: positiveMs.optional(),
      pollIntervalMs: positiveMs.optional(),
      maxQueue: z.number().int().positive().optional(),
    })
    .default({}),
  /** Serves Prometheus metrics of all workers at GET /metrics. */
  metrics: z.strictObject({ port, host }).optional(),
});

export type ProxyConfig = z.infer<typeof proxyConfigSchema>;
export type ListenerConfig = ProxyConfig["listeners"][number];

export class ProxyConfigError extends Error {
  readonly code = "ERR_NEXUS_PROXY_CONFIG";
  constructor(source: string, why: string) {
    super(`proxy config ${source}: ${why}`);
    this.name = "ProxyConfigError";
  }
}

/**
 * Validates a config document. Relative file paths (routes file, TLS files)
 * are made absolute against `baseDir`, the config file's folder.
 */
export function parseProxyConfig(document: unknown, source: string, baseDir: string): ProxyConfig {
  const parsed = proxyConfigSchema.safeParse(document);
  if (!parsed.success) throw new ProxyConfigError(source, `\n${z.prettifyError(parsed.error)}`);
  const config = parsed.data;
  const seen = new Set<string>();
  for (const listener of config.listeners) {
    const name = `${listener.host}:${listener.port}`;
    if (listener.port !== 0 && seen.has(name)) {
      throw new ProxyConfigError(source, `two listeners on ${name}`);
    }
    seen.add(name);
    if ("tls" in listener && listener.tls) {
      listener.tls.cert = resolvePath(baseDir, listener.tls.cert);
      listener.tls.key = resolvePath(baseDir, listener.tls.key);
    }
  }
  if (config.resolver.routes !== undefined) {
    try {
      new WildcardTable(config.resolver.routes);
    } catch (error) {
      throw new ProxyConfigError(source, `resolver.routes: ${(error as Error).message}`);
    }
  }
  if (config.resolver.file !== undefined) {
    config.resolver.file = resolvePath(baseDir, config.resolver.file);
  }
  return config;
}

/** Reads, parses and validates a config file; throws ProxyConfigError. */
export function loadProxyConfig(path: string): ProxyConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ProxyConfigError(path, (error as Error).message);
  }
  let document: unknown;
  try {
    document = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    if (error instanceof YAMLParseError) throw new ProxyConfigError(path, error.message);
    throw error;
  }
  return parseProxyConfig(document, path, dirname(resolvePath(path)));
}
