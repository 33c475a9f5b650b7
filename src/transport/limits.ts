// Per-connection limits of a service server. Each breach has its own error.
export interface ServerLimits {
  /** Largest frame payload, JSON line or HTTP body, in bytes. */
  readonly maxMessageBytes: number;
  /** Requests one connection may have in flight; more get TOO_MANY_REQUESTS. */
  readonly maxInFlight: number;
  /** Time to pick a dialect and, for framed RPC, to send HELLO. */
  readonly handshakeTimeoutMs: number;
  /** A connection with no traffic and nothing in flight for this long is closed. */
  readonly idleTimeoutMs: number;
  /** Failed authentications after which a connection is closed. */
  readonly maxAuthFailures: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  maxMessageBytes: 16 * 1024 * 1024,
  maxInFlight: 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  maxAuthFailures: 3,
};
