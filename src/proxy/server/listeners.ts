// One listener of the config as a running protocol adapter. Every adapter is
// a class taking `{ router, ...options }` with `listen(port, host)` and
// `close()`; this file is the one place that knows which class serves which
// `protocol:` and how its config keys map to its options.
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { SecureContextOptions } from "node:tls";
import type { BackendRouter } from "../core/index.ts";
import { type HttpMetrics, HttpProxy } from "../http/index.ts";
import { MysqlProxy } from "../mysql/index.ts";
import { PostgresProxy } from "../postgres/index.ts";
import { SmtpProxy } from "../smtp/index.ts";
import { TcpPortProxy } from "../tcp/index.ts";
import { TlsSniProxy } from "../tls/index.ts";
import type { ListenerConfig } from "./config.ts";
import { cancelPeering, type WorkerSlot } from "./worker-slot.ts";

export interface RunningListener {
  readonly config: ListenerConfig;
  readonly address: AddressInfo;
  /** Stops accepting and lets open connections finish; what is left after `drainTimeoutMs` is cut. */
  close(drainTimeoutMs: number): Promise<void>;
}

interface Adapter {
  listen(port: number, host?: string): Promise<AddressInfo>;
  /** Stops accepting; sessions still open after `drainTimeoutMs` are cut. */
  close(drainTimeoutMs: number): Promise<void>;
}

function secureContext(files: { cert: string; key: string } | undefined) {
  if (!files) return undefined;
  return {
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
  } satisfies SecureContextOptions;
}

/** The adapter for a non-HTTP listener. */
function createAdapter(
  config: Exclude<ListenerConfig, { protocol: "http" }>,
  router: BackendRouter,
  slot: WorkerSlot | undefined,
  index: number,
): Adapter {
  const { maxConnections } = config;
  switch (config.protocol) {
    case "postgres":
      return new PostgresProxy({
        router,
        maxConnections,
        routeBy: config.routeBy,
        tls: secureContext(config.tls),
        backendTls: config.backendTls,
        startupTimeoutMs: config.startupTimeoutMs,
        cancelPeering: cancelPeering(slot, index),
        kernelSplice: config.kernelSplice,
      });
    case "mysql":
      return new MysqlProxy({
        router,
        maxConnections,
        tls: secureContext(config.tls),
        requireTls: config.requireTls,
        defaultRoute: config.defaultRoute,
        serverVersion: config.serverVersion,
        handshakeTimeoutMs: config.handshakeTimeoutMs,
        kernelSplice: config.kernelSplice,
      });
    case "smtp":
      return new SmtpProxy({
        router,
        maxConnections,
        routeBy: config.routeBy,
        hostname: config.hostname,
        tls: secureContext(config.tls),
        backendTls: config.backendTls,
        maxLineLength: config.maxLineLength,
        maxMessageSize: config.maxMessageSize,
        idleTimeoutMs: config.idleTimeoutMs,
        relayIdleTimeoutMs: config.relayIdleTimeoutMs,
        backendTimeoutMs: config.backendTimeoutMs,
      });
    case "tls":
      return new TlsSniProxy({
        router,
        maxConnections,
        defaultRoute: config.defaultRoute,
        maxClientHelloBytes: config.maxClientHelloBytes,
        helloTimeoutMs: config.helloTimeoutMs,
        kernelSplice: config.kernelSplice,
      });
    case "tcp": {
      const proxy = new TcpPortProxy({ router, maxConnections, kernelSplice: config.kernelSplice });
      return {
        listen: (port, host) => proxy.listen(port, host, config.route),
        close: (drainTimeoutMs) => proxy.close(drainTimeoutMs),
      };
    }
  }
}

/**
 * Opens `config` on its port. HTTP listeners bind with SO_REUSEPORT so that
 * every worker accepts on its own socket and the kernel spreads connections;
 * the others share one socket through the cluster primary.
 */
export async function openListener(
  config: ListenerConfig,
  router: BackendRouter,
  httpMetrics: HttpMetrics,
  place: { readonly slot?: WorkerSlot; readonly index: number },
): Promise<RunningListener> {
  if (config.protocol === "http") {
    const proxy = new HttpProxy({
      router,
      metrics: httpMetrics,
      telemetryHeaders: config.telemetryHeaders,
      via: config.via,
      limits: { ...config.limits, maxConnections: config.maxConnections },
      pool: config.pool,
    });
    const address = await proxy.listen(config.port, config.host, { reusePort: true });
    return { config, address, close: (drainTimeoutMs) => proxy.close(drainTimeoutMs) };
  }
  const adapter = createAdapter(config, router, place.slot, place.index);
  const address = await adapter.listen(config.port, config.host);
  return { config, address, close: (drainTimeoutMs) => adapter.close(drainTimeoutMs) };
}
