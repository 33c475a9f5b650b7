// The simplest Resolver: a fixed map from routing key to backend.
import type { Resolver, Result } from "./resolver.ts";
import { ResolverError } from "./resolver-error.ts";

export type StaticRoutes = Readonly<Record<string, string | Result>>;

export class StaticResolver implements Resolver {
  readonly #routes: Map<string, Result>;

  constructor(routes: StaticRoutes) {
    this.#routes = new Map(
      Object.entries(routes).map(([key, value]) => [
        key.toLowerCase(),
        typeof value === "string" ? { endpoint: value } : value,
      ]),
    );
  }

  resolve(resourceId: string): Result {
    const result = this.#routes.get(resourceId.toLowerCase());
    if (!result) {
      throw new ResolverError("NOT_FOUND", `no route for ${JSON.stringify(resourceId)}`, {
        reason: "unknown_route",
      });
    }
    return result;
  }
}
