// Which of the supervisor's workers a process is. Listeners that must reach
// their siblings (PostgreSQL cancel requests can land on any worker) derive
// their peer socket paths from it; a replacement worker takes the same slot.
import { join } from "node:path";

export interface WorkerSlot {
  /** 0 … count - 1. */
  readonly index: number;
  readonly count: number;
  /** A private folder (mode 0700) of the supervisor for peer sockets. */
  readonly runtimeDir: string;
}

/** The PostgreSQL cancel peering of listener `listenerIndex` in this slot, when there are siblings. */
export function cancelPeering(slot: WorkerSlot | undefined, listenerIndex: number) {
  if (!slot || slot.count < 2) return undefined;
  const path = (worker: number) =>
    join(slot.runtimeDir, `pg-cancel-${listenerIndex}-${worker}.sock`);
  const peers: string[] = [];
  for (let worker = 0; worker < slot.count; worker++) {
    if (worker !== slot.index) peers.push(path(worker));
  }
  return { listen: path(slot.index), peers };
}
