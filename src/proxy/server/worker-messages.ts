// What the supervisor and its workers say to each other over cluster IPC.
import type { ProxyConfig } from "./config.ts";
import type { ListenerAddress } from "./proxy-server.ts";
import type { WorkerSlot } from "./worker-slot.ts";

export type ToWorker =
  | { readonly type: "nexus:start"; readonly config: ProxyConfig; readonly slot: WorkerSlot }
  | { readonly type: "nexus:reload"; readonly config: ProxyConfig }
  | { readonly type: "nexus:drain" };

export type FromWorker =
  | { readonly type: "nexus:listening"; readonly addresses: ListenerAddress[] }
  | { readonly type: "nexus:reloaded"; readonly warnings: string[] }
  | {
      readonly type: "nexus:failed";
      readonly during: "start" | "reload";
      readonly message: string;
    };

/** Tells the supervisor's messages apart from prom-client's and others'. */
export function isToWorker(message: unknown): message is ToWorker {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === "string" && type.startsWith("nexus:");
}
