// The simplest Resolver: a fixed map from routing key to backend. Keys may be
// wildcards (see route-table.ts).
import type { Resolver, Result } from "./resolver.ts";
import { unknownRoute } from "./resolver-error.ts";
import { type StaticRoutes, WildcardTable } from "./wildcard-table.ts";

export type { StaticRoutes };

export class StaticResolver implements Resolver {
  readonly #table: WildcardTable;

  constructor(routes: StaticRoutes) {
    this.#table = new WildcardTable(routes);
  }

  resolve(resourceId: string): Result {
    const result = this.#table.lookup(resourceId);
    if (!result) throw unknownRoute(resourceId);
    return result;
  }
}
