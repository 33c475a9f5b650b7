// The running instances of one service, found by their socket names in the
// socket directory (`<name>.sock`, `<name>@<n>.sock`), and the choice of the
// one with the fewest requests in flight.
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { parseSocketName } from "../security/socket-dir.ts";
import { InstancePool, type InstancePoolOptions } from "./instance-pool.ts";

export class ServiceInstances {
  readonly #service: string;
  readonly #dir: string;
  readonly #poolOptions: InstancePoolOptions;
  readonly #rescanIntervalMs: number;
  readonly #pools = new Map<string, InstancePool>();
  #scannedAt = Number.NEGATIVE_INFINITY;
  #scanning: Promise<void> | undefined;

  constructor(
    service: string,
    dir: string,
    poolOptions: InstancePoolOptions,
    rescanIntervalMs: number,
  ) {
    this.#service = service;
    this.#dir = dir;
    this.#poolOptions = poolOptions;
    this.#rescanIntervalMs = rescanIntervalMs;
  }

  /** Whether no instance is known: scan before picking. */
  get empty(): boolean {
    return this.#pools.size === 0;
  }

  /** The least loaded known instance, skipping `excluded` paths; rescans in the background when the list is old. */
  pick(excluded?: { has(path: string): boolean }): InstancePool | undefined {
    if (performance.now() - this.#scannedAt > this.#rescanIntervalMs) void this.rescan();
    let best: InstancePool | undefined;
    for (const pool of this.#pools.values()) {
      if (excluded?.has(pool.path)) continue;
      if (best === undefined || pool.inFlight < best.inFlight) best = pool;
    }
    return best;
  }

  /** An instance whose socket refused us is dropped until a scan finds it again. */
  forget(pool: InstancePool): void {
    if (this.#pools.get(pool.path) === pool) this.#pools.delete(pool.path);
    pool.close();
  }

  rescan(): Promise<void> {
    this.#scanning ??= this.#scan().finally(() => {
      this.#scanning = undefined;
    });
    return this.#scanning;
  }

  close(): void {
    for (const pool of this.#pools.values()) pool.close();
    this.#pools.clear();
  }

  async #scan(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      names = [];
    }
    const found = new Set<string>();
    for (const name of names) {
      if (parseSocketName(name)?.service === this.#service) found.add(join(this.#dir, name));
    }
    // A vanished socket's connections are left to finish; its server closes them.
    for (const path of this.#pools.keys()) {
      if (!found.has(path)) this.#pools.delete(path);
    }
    for (const path of found) {
      if (!this.#pools.has(path)) this.#pools.set(path, new InstancePool(path, this.#poolOptions));
    }
    this.#scannedAt = performance.now();
  }
}
