// Maps a gateway request to a service: the longest matching path prefix wins
// (`/users` matches `/users` and `/users/1`, not `/usersx`), and the rest of
// the path is what the service sees. A route is open to callers without a
// token when the gateway route is public or the service marks it public.
import FindMyWay from "find-my-way";
import type { GatewayRoute } from "../orchestrator/config.ts";
import type { PublicRoute } from "../orchestrator/host-messages.ts";

export interface RouteMatch {
  readonly route: GatewayRoute;
  /** The path (and query) as the service sees it, always starting with `/`. */
  readonly servicePath: string;
}

type Router = FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;

export class RouteTable {
  readonly #routes: readonly GatewayRoute[];
  /** Public-route routers, rebuilt when a service reports a new list (after a reload). */
  readonly #publicRouters = new WeakMap<readonly PublicRoute[], Router>();

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

  isPublic(match: RouteMatch, method: string, publicRoutes: readonly PublicRoute[]): boolean {
    if (match.route.public) return true;
    if (publicRoutes.length === 0) return false;
    let router = this.#publicRouters.get(publicRoutes);
    if (router === undefined) {
      router = FindMyWay({ ignoreTrailingSlash: true, caseSensitive: true });
      for (const r of publicRoutes) router.on(r.method as FindMyWay.HTTPMethod, r.path, noop);
      this.#publicRouters.set(publicRoutes, router);
    }
    const path = match.servicePath.split(/[?#]/)[0]!;
    return router.find(method as FindMyWay.HTTPMethod, path) !== null;
  }
}

function noop(): void {}
