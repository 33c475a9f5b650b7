// A Resolver that reads its routes from a YAML or JSON file and reloads it
// when it changes. A reload swaps the table for new lookups only: open
// connections are not touched. A file that fails to read, parse or validate
// leaves the last good routes in place, and the reason is logged.
//
//   routes:
//     api.example.com: 127.0.0.1:8080
//     "*.example.com": unix:/run/app.sock
//     billing: { endpoint: "[::1]:5432", timeout: 2000, metadata: { database: bills } }
import { EventEmitter } from "node:events";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { pino } from "pino";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { parseEndpoint } from "./endpoint.ts";
import type { Resolver, Result } from "./resolver.ts";
import { unknownRoute } from "./resolver-error.ts";
import { WildcardTable } from "./wildcard-table.ts";

/** A backend endpoint as text, checked by parseEndpoint. */
const endpointSchema = z.string().superRefine((text, ctx) => {
  try {
    parseEndpoint(text);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
  }
});

/** One route's value, as a routes file or the proxy config writes it: an endpoint or a Result. */
export const routeValueSchema = z.union([
  endpointSchema,
  z.strictObject({
    endpoint: endpointSchema,
    metadata: z.record(z.string(), z.unknown()).optional(),
    timeout: z.number().int().positive().optional(),
    asleep: z.boolean().optional(),
  }),
]);

const routesFileSchema = z.strictObject({
  routes: z.record(z.string(), routeValueSchema),
});

/** The logging this resolver needs; a pino logger fits. */
export interface RoutesLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface FileResolverOptions {
  readonly path: string;
  /** Watch the file and reload on change (default true). */
  readonly watch?: boolean;
  /** Wait this long after a change before reading, so editors finish writing (default 50 ms). */
  readonly debounceMs?: number;
  readonly logger?: RoutesLogger;
}

export class RoutesFileError extends Error {
  constructor(path: string, why: string, cause?: unknown) {
    super(`routes file ${path}: ${why}`, cause === undefined ? undefined : { cause });
    this.name = "RoutesFileError";
  }
}

/** Reads and validates a routes file; throws RoutesFileError. */
export function loadRoutesFile(path: string): WildcardTable {
  let document: unknown;
  try {
    // YAML 1.2 reads JSON too.
    document = parseYaml(readFileSync(path, "utf8"));
  } catch (error) {
    throw new RoutesFileError(path, (error as Error).message, error);
  }
  const parsed = routesFileSchema.safeParse(document);
  if (!parsed.success) throw new RoutesFileError(path, z.prettifyError(parsed.error));
  try {
    return new WildcardTable(parsed.data.routes);
  } catch (error) {
    throw new RoutesFileError(path, (error as Error).message, error);
  }
}

/**
 * Events: `reload` (routeCount) after new routes are in place; `invalid`
 * (RoutesFileError) when a changed file was refused.
 */
export class FileResolver extends EventEmitter implements Resolver {
  readonly path: string;
  readonly #logger: RoutesLogger;
  readonly #debounceMs: number;
  #table: WildcardTable;
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;

  /** Reads the file now; throws RoutesFileError if the first read fails. */
  constructor(options: FileResolverOptions) {
    super();
    this.path = options.path;
    this.#logger = options.logger ?? pino({ name: "nexus-routes" });
    this.#debounceMs = options.debounceMs ?? 50;
    this.#table = loadRoutesFile(this.path);
    if (options.watch ?? true) this.#watch();
  }

  resolve(resourceId: string): Result {
    const result = this.#table.lookup(resourceId);
    if (!result) throw unknownRoute(resourceId);
    return result;
  }

  /** Reads the file again; keeps the current routes when it is invalid. Returns whether it applied. */
  reload(): boolean {
    let table: WildcardTable;
    try {
      table = loadRoutesFile(this.path);
    } catch (error) {
      this.#logger.warn(
        { err: error, path: this.path },
        "routes file refused; keeping the last good routes",
      );
      this.emit("invalid", error);
      return false;
    }
    this.#table = table;
    this.#logger.info({ path: this.path, routes: table.size }, "routes reloaded");
    this.emit("reload", table.size);
    return true;
  }

  getStats() {
    return { routes: this.#table.size };
  }

  close(): void {
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  // The folder is watched, not the file: editors and config tools replace a
  // file by renaming a new one over it, which ends a watch on the old inode.
  #watch(): void {
    const name = basename(this.path);
    this.#watcher = watch(dirname(this.path), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => this.reload(), this.#debounceMs);
    });
  }
}
