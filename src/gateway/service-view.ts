// What the gateway needs to know about a supervised service: whether it can
// answer now, on which sockets, and which of its routes are public.
import type { PublicRoute } from "../orchestrator/host-messages.ts";

export interface ServiceView {
  readonly name: string;
  readonly status: string;
  /** Sockets of the instances that are ready. */
  readonly readySockets: readonly string[];
  /** While asleep, the socket whose first connection wakes the service. */
  readonly wakeSocket: string | undefined;
  readonly publicRoutes: readonly PublicRoute[];
}

/** Seconds a caller should wait before retrying a service in this state. */
export function retryAfterSeconds(status: string): number {
  if (status === "errored" || status === "stopped") return 30;
  return 1;
}
