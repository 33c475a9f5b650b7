// A typed handle on one service. `call("GET /user/:id", { params, data })`
// infers params, data and the result from the service's definition.
import type { CallArgs, CallOptions, RouteTable } from "../service/route-types.ts";
import type { Client } from "./client.ts";

type PathBuilder = (params: Record<string, string> | undefined) => string;

export class ServiceClient<Routes extends RouteTable> {
  readonly name: string;
  readonly #client: Client;
  readonly #paths = new Map<string, { method: string; build: PathBuilder }>();

  constructor(client: Client, name: string) {
    this.#client = client;
    this.name = name;
  }

  call<Key extends keyof Routes & string>(
    key: Key,
    ...[input, options]: CallArgs<Routes[Key]>
  ): Promise<Routes[Key]["output"]> {
    const route = this.#route(key);
    const params = input?.params as Record<string, string> | undefined;
    return this.#client.request(this.name, route.method, route.build(params), input?.data, options);
  }

  /** An untyped call by method and concrete path ("GET", "/user/1"). */
  request(method: string, path: string, data?: unknown, options?: CallOptions): Promise<unknown> {
    return this.#client.request(this.name, method, path, data, options);
  }

  #route(key: string): { method: string; build: PathBuilder } {
    let route = this.#paths.get(key);
    if (route === undefined) {
      const space = key.indexOf(" ");
      route = { method: key.slice(0, space), build: compilePath(key.slice(space + 1)) };
      this.#paths.set(key, route);
    }
    return route;
  }
}

/** Turns "/user/:id/*" into a function filling in `:id` (encoded) and `*` (as is). */
export function compilePath(template: string): PathBuilder {
  const parts = template.split(/(:[A-Za-z0-9_]+|\*)/);
  if (parts.length === 1) return () => template;
  return (params) =>
    parts
      .map((part, index) => {
        if (index % 2 === 0) return part;
        const name = part === "*" ? "*" : part.slice(1);
        const value = params?.[name];
        if (value === undefined)
          throw new TypeError(`missing path parameter "${name}" for ${template}`);
        return part === "*" ? encodeURI(value) : encodeURIComponent(value);
      })
      .join("");
}
