// A service definition brought to life: dependencies built, start hook run,
// routes compiled into a find-my-way router. Every dialect and the
// in-process mount hand it a Call and get back data or a ServiceError.
import FindMyWay from "find-my-way";
import type { Logger } from "pino";
import type { Client } from "../transport/client.ts";
import type { Call } from "./call.ts";
import type { RouteSpec, ServiceDefinition, ServiceEnvironment } from "./define.ts";
import { ServiceError } from "./errors.ts";
import { RouteContext } from "./handler-context.ts";
import { compileValidator, type Validator } from "./validation.ts";

interface CompiledRoute {
  readonly spec: RouteSpec;
  readonly validate: Validator | undefined;
}

type Router = FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;

export class ServiceRuntime {
  readonly name: string;
  readonly #definition: ServiceDefinition<unknown>;
  readonly #env: ServiceEnvironment;
  readonly #deps: unknown;
  readonly #router: Router;
  readonly #methods: readonly string[];
  #stopped = false;

  /** Builds the dependencies and runs the start hook. */
  // biome-ignore lint/suspicious/noExplicitAny: accepts a definition of any dependencies and routes
  static async start(definition: ServiceDefinition<any, any>, log: Logger, client: Client) {
    const env: ServiceEnvironment = { log, client };
    const deps = await definition.options.dependencies?.(env);
    await definition.options.start?.(deps, env);
    return new ServiceRuntime(definition, env, deps);
  }

  private constructor(
    definition: ServiceDefinition<unknown>,
    env: ServiceEnvironment,
    deps: unknown,
  ) {
    this.name = definition.name;
    this.#definition = definition;
    this.#env = env;
    this.#deps = deps;
    this.#router = FindMyWay({ ignoreTrailingSlash: true, caseSensitive: true });
    const methods = new Set<string>();
    for (const spec of definition.routes) {
      const route: CompiledRoute = {
        spec,
        validate: spec.input === undefined ? undefined : compileValidator(spec.input),
      };
      this.#router.on(spec.method as FindMyWay.HTTPMethod, spec.path, noop, route);
      methods.add(spec.method);
    }
    this.#methods = [...methods];
  }

  get log(): Logger {
    return this.#env.log;
  }

  /** The handler's data, or a ServiceError; never anything else. */
  async dispatch(call: Call): Promise<unknown> {
    try {
      const found = this.#router.find(call.method as FindMyWay.HTTPMethod, call.path);
      if (found === null) throw this.#missing(call);
      const route = found.store as CompiledRoute;
      if (!route.spec.public && !call.caller.authenticated) {
        throw new ServiceError("UNAUTHORIZED", "a valid token is required for this route");
      }
      const data = route.validate === undefined ? call.data : await route.validate(call.data);
      // Cancelled or expired while its input was validated: the handler would start already aborted.
      if (call.endedEarly !== undefined) throw call.endedEarly;
      const params = found.params as Record<string, string>;
      const { log, client } = this.#env;
      const context = new RouteContext(call, params, data, this.#deps, log, client);
      const result = route.spec.handler(context);
      return result instanceof Promise ? await call.guard(result) : result;
    } catch (error) {
      throw this.#safe(error, call);
    }
  }

  /** Runs the stop hook once. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#definition.options.stop?.(this.#deps, this.#env);
  }

  #missing(call: Call): ServiceError {
    const allow = this.#methods.filter(
      (method) =>
        method !== call.method &&
        this.#router.find(method as FindMyWay.HTTPMethod, call.path) !== null,
    );
    if (allow.length > 0) {
      return new ServiceError(
        "METHOD_NOT_ALLOWED",
        `${call.method} is not allowed on ${call.path}`,
        {
          details: { allow },
        },
      );
    }
    return new ServiceError("NOT_FOUND", `no route for ${call.method} ${call.path}`);
  }

  /** Internal failures are logged in full and reach the caller as a bare INTERNAL. */
  #safe(error: unknown, call: Call): ServiceError {
    if (error instanceof ServiceError) return error;
    this.#env.log.error(
      { err: error, method: call.method, path: call.path },
      "handler failed with an unexpected error",
    );
    return new ServiceError("INTERNAL", "internal error");
  }
}

function noop(): void {}
