// Type-level description of routes: what a caller's call infers from a
// service definition, with no code generation (hono's RPC typing model).

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS";

/** A route key: an HTTP method, a space, and a find-my-way path ("GET /user/:id"). */
export type RouteKey = `${Method} /${string}`;

export type PathOf<K extends string> = K extends `${Method} ${infer Path}` ? Path : never;

/** Parameter names of a path: `:name` segments, and `*` for a trailing wildcard. */
export type ParamNames<Path extends string> = Path extends `${string}:${infer Rest}`
  ? Rest extends `${infer Name}/${infer Tail}`
    ? Name | ParamNames<`/${Tail}`>
    : Rest
  : Path extends `${string}*`
    ? "*"
    : never;

export type ParamsOf<K extends string> = { [Name in ParamNames<PathOf<K>>]: string };

/** What the type system knows of one route. */
export interface RouteTypes<Params, Input, Output> {
  readonly params: Params;
  readonly input: Input;
  readonly output: Output;
}

// biome-ignore lint/suspicious/noExplicitAny: the widest route table, used as a constraint
export type RouteTable = Record<string, RouteTypes<any, any, any>>;

/** A caller's argument for one route; optional when the route needs neither params nor data. */
export type CallInput<R extends RouteTypes<unknown, unknown, unknown>> = ([
  keyof R["params"],
] extends [never]
  ? { readonly params?: undefined }
  : { readonly params: R["params"] }) &
  (undefined extends R["input"] ? { readonly data?: R["input"] } : { readonly data: R["input"] });

export type CallArgs<R extends RouteTypes<unknown, unknown, unknown>> = (
  [keyof R["params"]] extends [never]
    ? undefined extends R["input"]
      ? true
      : false
    : false
) extends true
  ? [input?: CallInput<R>, options?: CallOptions]
  : [input: CallInput<R>, options?: CallOptions];

export interface CallOptions {
  /** Aborting sends a cancel to the service; the call rejects with CANCELLED. */
  readonly signal?: AbortSignal;
  /** Overrides the client's default timeout for this call. */
  readonly timeoutMs?: number;
}
