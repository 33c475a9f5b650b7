// Maps a gateway request to a service: the longest matching path prefix wins
// (`/users` matches `/users` and `/users/1`, not `/usersx`), and the rest of
// the path is what the service sees.
import type { GatewayRoute } from "../orchestrator/config.ts";

export interface RouteMatch {
  readonly route: GatewayRoute;
  /** The path (and query) as the service sees it, always starting with `/`. */
  readonly servicePath: string;
}

export class RouteTable {
  readonly #routes: readonly GatewayRoute[];

  constructor(routes: readonly GatewayRoute[]) {
    const trimmed = routes.map((r) => ({ ...r, prefix: r.prefix.replace(/\/+$/, "") }));
    this.#routes = trimmed.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  match(target: string): RouteMatch | undefined {
    const queryAt = target.search(/[?#]/);
    const path = queryAt === -1 ? target : target.slice(0, queryAt);
    const query = queryAt === -1 ? "" : target.slice(queryAt);
    for (const route of this.#routes) {
      if (path === route.prefix || path.startsWith(`${route.prefix}/`) || route.prefix === "") {
        const rest = path.slice(route.prefix.length);
        return { route, servicePath: `${rest.startsWith("/") ? rest : `/${rest}`}${query}` };
      }
    }
    return undefined;
  }
}
