// The Resolver contract: given the routing key a protocol read from a
// connection (Host, database, mail domain, SNI …), say which backend serves it.
import type { ResolverError } from "./resolver-error.ts";

export type ProtocolName = "http" | "postgres" | "mysql" | "smtp" | "tls" | "tcp";

/** What the proxy knows about a connection when it asks for a route. */
export interface ResolveContext {
  readonly protocol: ProtocolName;
  /** Address of the client, as the listener saw it. */
  readonly clientAddress?: string;
  /** TLS server name, when one was sent. */
  readonly serverName?: string;
}

/** A resolver's answer. */
export interface Result {
  /** `host:port`, `[v6]:port` or `unix:/path`. */
  readonly endpoint: string;
  /** Free-form data for the protocol (for example a database rename). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Per-route timeout in milliseconds for the backend connection or response. */
  readonly timeout?: number;
  /**
   * True when the backend exists but sleeps (scaled to zero). The proxy then
   * calls `wake` once, queues connections, and re-resolves until it is awake.
   */
  readonly asleep?: boolean;
}

export interface ResolverStats {
  readonly [name: string]: number | string | boolean | undefined;
}

export interface Resolver {
  /** Throws (or rejects with) a ResolverError when there is no usable backend. */
  resolve(resourceId: string, context: ResolveContext): Result | Promise<Result>;
  /** Starts a sleeping backend. Called once for all the connections waiting on it. */
  wake?(resourceId: string, result: Result, context: ResolveContext): void | Promise<void>;
  /** A connection to the backend of `resourceId` opened. */
  onConnect?(resourceId: string, result: Result, context: ResolveContext): void;
  /** A connection to the backend of `resourceId` closed. */
  onDisconnect?(resourceId: string, result: Result, context: ResolveContext): void;
  /** Traffic was seen for `resourceId` (used to stop idle backends). */
  trackActivity?(resourceId: string): void;
  /** Forget cached answers: one key, or all when none is given. */
  invalidateCache?(resourceId?: string): void;
  getStats?(): ResolverStats;
  /** Releases timers and watchers. */
  close?(): void | Promise<void>;
}

export type { ResolverError };
