// What the gateway needs to know about a supervised service: whether it can
// answer now, and on which sockets.

export interface ServiceView {
  readonly name: string;
  readonly status: string;
  /** Sockets of the instances that are ready. */
  readonly readySockets: readonly string[];
  /** While asleep, the socket whose first connection wakes the service. */
  readonly wakeSocket: string | undefined;
}

/** Seconds a caller should wait before retrying a service in this state. */
export function retryAfterSeconds(status: string): number {
  if (status === "errored" || status === "stopped") return 30;
  return 1;
}
