// The context object a handler receives; its signal is created on first use.
import type { Logger } from "pino";
import type { Client } from "../transport/client.ts";
import type { Call, Caller } from "./call.ts";
import type { HandlerContext } from "./define.ts";

export class RouteContext implements HandlerContext<unknown, Record<string, string>, unknown> {
  readonly params: Record<string, string>;
  readonly data: unknown;
  readonly deps: unknown;
  readonly log: Logger;
  readonly client: Client;
  readonly #call: Call;

  constructor(
    call: Call,
    params: Record<string, string>,
    data: unknown,
    deps: unknown,
    log: Logger,
    client: Client,
  ) {
    this.#call = call;
    this.params = params;
    this.data = data;
    this.deps = deps;
    this.log = log;
    this.client = client;
  }

  get method(): string {
    return this.#call.method;
  }

  get path(): string {
    return this.#call.path;
  }

  get caller(): Caller {
    return this.#call.caller;
  }

  get deadline(): number | undefined {
    return this.#call.deadline;
  }

  get signal(): AbortSignal {
    return this.#call.signal;
  }
}
