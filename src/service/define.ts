// defineService: a service's name, its dependencies (built by a typed
// factory), lifecycle hooks and routes. Routes are added with `.route()`,
// each call extending the definition's type so callers infer every route's
// params, input and output.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import type { Logger } from "pino";
import type { Client } from "../transport/client.ts";
import type { Caller } from "./call.ts";
import type { ParamsOf, RouteKey, RouteTable, RouteTypes } from "./route-types.ts";

/** What the dependency factory and the hooks receive. */
export interface ServiceEnvironment {
  readonly log: Logger;
  /** For calling other services. */
  readonly client: Client;
}

export interface HandlerContext<Deps, Params, Data> extends ServiceEnvironment {
  readonly method: string;
  readonly path: string;
  readonly params: Params;
  /** The request's data, validated and transformed by the route's input schema when it has one. */
  readonly data: Data;
  readonly deps: Deps;
  readonly caller: Caller;
  /** Epoch milliseconds by which the caller wants an answer; undefined when it set none. */
  readonly deadline: number | undefined;
  /** Fires when the caller cancels, disconnects, or the deadline passes. */
  readonly signal: AbortSignal;
}

export type Handler<Deps, Params, Data, Output> = (
  context: HandlerContext<Deps, Params, Data>,
) => Output | Promise<Output>;

export interface RouteOptions<Schema extends StandardSchemaV1 | undefined> {
  /** Validates the request's data; a failure is BAD_REQUEST naming the field. */
  readonly input?: Schema;
  /** A public route needs no token. */
  readonly public?: boolean;
}

/** One route as the server runs it. */
export interface RouteSpec {
  readonly method: string;
  readonly path: string;
  readonly input: StandardSchemaV1 | undefined;
  readonly public: boolean;
  readonly handler: Handler<unknown, Record<string, string>, unknown, unknown>;
}

export interface ServiceOptions<Deps> {
  /** The socket is `<socket dir>/<name>.sock`. */
  readonly name: string;
  /** Builds the handlers' dependencies once, before the service serves. */
  readonly dependencies?: (env: ServiceEnvironment) => Deps | Promise<Deps>;
  readonly start?: (deps: Deps, env: ServiceEnvironment) => void | Promise<void>;
  readonly stop?: (deps: Deps, env: ServiceEnvironment) => void | Promise<void>;
}

type DataOf<Schema> = Schema extends StandardSchemaV1
  ? StandardSchemaV1.InferOutput<Schema>
  : unknown;
type InputOf<Schema> = Schema extends StandardSchemaV1
  ? StandardSchemaV1.InferInput<Schema>
  : unknown;

const SERVICE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;
const ROUTE_KEY = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/\S*)$/;

// biome-ignore lint/complexity/noBannedTypes: an empty route table grows with each route
export class ServiceDefinition<Deps = undefined, Routes extends RouteTable = {}> {
  readonly name: string;
  readonly options: ServiceOptions<Deps>;
  readonly routes: readonly RouteSpec[];
  /** Carries the route types for callers; never set at run time. */
  declare readonly "~routes": Routes;

  constructor(options: ServiceOptions<Deps>, routes: readonly RouteSpec[] = []) {
    if (!SERVICE_NAME.test(options.name)) {
      throw new TypeError(`invalid service name ${JSON.stringify(options.name)}`);
    }
    this.name = options.name;
    this.options = options;
    this.routes = routes;
  }

  route<Key extends RouteKey, Output>(
    key: Key,
    handler: Handler<Deps, ParamsOf<Key>, unknown, Output>,
  ): ServiceDefinition<
    Deps,
    Routes & Record<Key, RouteTypes<ParamsOf<Key>, unknown, Awaited<Output>>>
  >;
  route<Key extends RouteKey, Output, Schema extends StandardSchemaV1 | undefined = undefined>(
    key: Key,
    options: RouteOptions<Schema>,
    handler: Handler<Deps, ParamsOf<Key>, DataOf<Schema>, Output>,
  ): ServiceDefinition<
    Deps,
    Routes & Record<Key, RouteTypes<ParamsOf<Key>, InputOf<Schema>, Awaited<Output>>>
  >;
  route(
    key: string,
    optionsOrHandler:
      | RouteOptions<StandardSchemaV1 | undefined>
      | Handler<Deps, never, never, unknown>,
    maybeHandler?: Handler<Deps, never, never, unknown>,
  ): unknown {
    const match = ROUTE_KEY.exec(key);
    if (match === null) throw new TypeError(`invalid route key ${JSON.stringify(key)}`);
    const [options, handler] =
      typeof optionsOrHandler === "function"
        ? [{}, optionsOrHandler]
        : [optionsOrHandler, maybeHandler];
    if (typeof handler !== "function") throw new TypeError(`route ${key} has no handler`);
    const spec: RouteSpec = {
      method: match[1]!,
      path: match[2]!,
      input: options.input,
      public: options.public === true,
      handler: handler as RouteSpec["handler"],
    };
    return new ServiceDefinition(this.options, [...this.routes, spec]);
  }
}

export function defineService<Deps = undefined>(
  options: ServiceOptions<Deps>,
): ServiceDefinition<Deps> {
  return new ServiceDefinition(options);
}

/** The route table of a definition, for typing a client. */
export type RoutesOf<Definition> = Definition extends { readonly "~routes": infer Routes }
  ? Routes
  : never;
