// Per-request figures, kept cheaply on the request path: three counters and
// an optional hook the orchestrator uses to aggregate latency off this path.
import type { Call, CallerDialect } from "../service/call.ts";
import type { ErrorCode } from "../service/errors.ts";

export interface RequestOutcome {
  readonly method: string;
  readonly path: string;
  readonly dialect: CallerDialect;
  readonly durationMs: number;
  /** The error code, or undefined for a success. */
  readonly error: ErrorCode | undefined;
}

export interface StatsSnapshot {
  readonly requests: number;
  readonly errors: number;
  readonly inFlight: number;
  readonly connections: number;
}

export class ServerStats {
  readonly #onRequest: ((outcome: RequestOutcome) => void) | undefined;
  #requests = 0;
  #errors = 0;
  #inFlight = 0;
  connections = 0;

  constructor(onRequest?: (outcome: RequestOutcome) => void) {
    this.#onRequest = onRequest;
  }

  /** Marks a request as started; returns its start time for `end`. */
  begin(): number {
    this.#inFlight++;
    return performance.now();
  }

  end(
    call: Pick<Call, "method" | "path" | "caller">,
    started: number,
    error: ErrorCode | undefined,
  ): void {
    this.#inFlight--;
    this.#requests++;
    if (error !== undefined) this.#errors++;
    this.#onRequest?.({
      method: call.method,
      path: call.path,
      dialect: call.caller.dialect,
      durationMs: performance.now() - started,
      error,
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  snapshot(): StatsSnapshot {
    return {
      requests: this.#requests,
      errors: this.#errors,
      inFlight: this.#inFlight,
      connections: this.connections,
    };
  }
}
