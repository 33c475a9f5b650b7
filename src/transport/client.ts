// The client services use to call each other: finds a service's sockets by
// name, balances across its instances by requests in flight, multiplexes
// requests over a small pool of framed-RPC connections, and fails fast with
// UNAVAILABLE when the service is absent. Services mounted in-process are
// called directly, behind the same API.
import pino, { type Logger } from "pino";
import { resolveSocketDir, socketPathFor } from "../security/socket-dir.ts";
import { loadOrCreateToken, tokenPathFor } from "../security/token.ts";
import { Call } from "../service/call.ts";
import type { RoutesOf, ServiceDefinition } from "../service/define.ts";
import { ServiceError } from "../service/errors.ts";
import type { CallOptions, RouteTable } from "../service/route-types.ts";
import { ServiceRuntime } from "../service/runtime.ts";
import type { CodecName } from "../wire/codec.ts";
import type { InstancePoolOptions } from "./instance-pool.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import type { RpcClientConnection } from "./rpc-client-connection.ts";
import { ServiceClient } from "./service-client.ts";
import { ServiceInstances } from "./service-instances.ts";

export interface ClientOptions {
  /** Defaults to NEXUS_SOCKET_DIR, then /tmp/nexus. */
  readonly socketDir?: string;
  /** The shared secret; by default read (or created) at `<socketDir>/token`. */
  readonly token?: string;
  readonly tokenPath?: string;
  /** Default deadline of a call, carried to the server. Default 30 s; 0 for none. */
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  /** "msgpack" offers MessagePack in the handshake; the default is JSON. */
  readonly codec?: CodecName;
  /** Multiplexed connections per service instance. Default 1. */
  readonly connectionsPerInstance?: number;
  /** How often the socket directory is rescanned for new instances. Default 1 s. */
  readonly rescanIntervalMs?: number;
  readonly log?: Logger;
}

export class Client {
  readonly #socketDir: string;
  readonly #options: ClientOptions;
  readonly #log: Logger;
  readonly #services = new Map<string, ServiceInstances>();
  readonly #mounted = new Map<string, ServiceRuntime>();
  #poolOptions: Promise<InstancePoolOptions> | undefined;

  constructor(options: ClientOptions = {}) {
    this.#socketDir = resolveSocketDir(options.socketDir);
    this.#options = options;
    this.#log = options.log ?? pino({ name: "nexus-client" });
  }

  /** A typed handle on one service: `client.service<typeof users>("users")` or `client.service(users)`. */
  service<Definition>(name: string): ServiceClient<RoutesOf<Definition> & RouteTable>;
  service<Definition extends { readonly name: string; readonly "~routes": RouteTable }>(
    definition: Definition,
  ): ServiceClient<RoutesOf<Definition> & RouteTable>;
  service(target: string | { readonly name: string }): ServiceClient<RouteTable> {
    return new ServiceClient(this, typeof target === "string" ? target : target.name);
  }

  /** Serves a definition inside this process: calls to its name skip the socket. */
  // biome-ignore lint/suspicious/noExplicitAny: mounts a definition of any dependencies and routes
  async mount(definition: ServiceDefinition<any, any>): Promise<void> {
    if (this.#mounted.has(definition.name)) {
      throw new Error(`service ${definition.name} is already mounted`);
    }
    const log = this.#log.child({ service: definition.name });
    this.#mounted.set(definition.name, await ServiceRuntime.start(definition, log, this));
  }

  /** An untyped call by method and concrete path. */
  request(
    service: string,
    method: string,
    path: string,
    data?: unknown,
    options: CallOptions = {},
  ): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? this.#options.timeoutMs ?? 30_000;
    // The common case, a known instance with an open connection, stays synchronous.
    const connection = this.#services.get(service)?.pick()?.ready();
    if (connection !== undefined && options.signal?.aborted !== true) {
      return connection.request(method, path, data, { timeoutMs, signal: options.signal });
    }
    return this.#request(service, { method, path, data, timeoutMs, signal: options.signal });
  }

  async #request(service: string, outgoing: Outgoing): Promise<unknown> {
    const { method, path, data, timeoutMs, signal } = outgoing;
    if (signal?.aborted) throw new ServiceError("CANCELLED", "the call was aborted");
    const mounted = this.#mounted.get(service);
    if (mounted !== undefined) return callInProcess(mounted, outgoing);
    const instances = await this.#instances(service);
    // An instance that fails to connect is skipped for this call and dropped
    // until a scan finds it again; nothing was sent, so trying another is safe.
    const refused = new Map<string, string>();
    for (;;) {
      if (instances.empty) await instances.rescan();
      // Picking and acquiring in one synchronous step keeps the in-flight counts true.
      const pool = instances.pick(refused);
      if (pool === undefined) throw this.#unavailable(service, refused);
      let connection: RpcClientConnection;
      try {
        connection = await pool.acquire();
      } catch (error) {
        if (error instanceof ServiceError && error.code === "UNAVAILABLE") {
          refused.set(pool.path, error.message);
          instances.forget(pool);
          continue;
        }
        throw error;
      }
      return connection.request(method, path, data, { timeoutMs, signal });
    }
  }

  #unavailable(service: string, refused: ReadonlyMap<string, string>): ServiceError {
    if (refused.size === 0) {
      const expected = socketPathFor(this.#socketDir, service);
      return new ServiceError(
        "UNAVAILABLE",
        `service ${service} is not running (no socket at ${expected})`,
      );
    }
    const reasons = [...refused.values()].join("; ");
    return new ServiceError("UNAVAILABLE", `service ${service} is not answering: ${reasons}`);
  }

  /** Closes every connection and stops the mounted services. */
  async close(): Promise<void> {
    for (const instances of this.#services.values()) instances.close();
    this.#services.clear();
    const mounted = [...this.#mounted.values()];
    this.#mounted.clear();
    await Promise.all(mounted.map((runtime) => runtime.stop()));
  }

  async #instances(service: string): Promise<ServiceInstances> {
    let instances = this.#services.get(service);
    if (instances === undefined) {
      this.#poolOptions ??= this.#resolvePoolOptions();
      const poolOptions = await this.#poolOptions;
      instances = this.#services.get(service);
      if (instances === undefined) {
        const rescan = this.#options.rescanIntervalMs ?? 1000;
        instances = new ServiceInstances(service, this.#socketDir, poolOptions, rescan);
        this.#services.set(service, instances);
      }
    }
    return instances;
  }

  async #resolvePoolOptions(): Promise<InstancePoolOptions> {
    return {
      token: this.#options.token ?? (await this.#readToken()),
      codec: this.#options.codec ?? "json",
      connectTimeoutMs: this.#options.connectTimeoutMs ?? 5000,
      maxFrameBytes: DEFAULT_LIMITS.maxMessageBytes,
      connections: this.#options.connectionsPerInstance ?? 1,
    };
  }

  /** Without a readable token file the client can still call public routes. */
  async #readToken(): Promise<string | undefined> {
    const path = this.#options.tokenPath ?? tokenPathFor(this.#socketDir);
    try {
      return await loadOrCreateToken(path);
    } catch (error) {
      this.#log.warn({ err: error, path }, "no token: only public routes can be called");
      return undefined;
    }
  }
}

/** A call on its way out, once its options are resolved. */
interface Outgoing {
  readonly method: string;
  readonly path: string;
  readonly data: unknown;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
}

async function callInProcess(runtime: ServiceRuntime, outgoing: Outgoing): Promise<unknown> {
  const { method, path, data, timeoutMs, signal } = outgoing;
  const call = new Call({
    method,
    path,
    data,
    timeoutMs,
    caller: { dialect: "in-process", authenticated: true },
  });
  const cancel = () => call.cancel();
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    return await runtime.dispatch(call);
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
}
