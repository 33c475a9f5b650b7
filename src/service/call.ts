// One request being served: who asked, by when, and how it ends early
// (cancel, disconnect, deadline). The abort signal is only created when a
// handler asks for it, keeping the common path allocation-light.
import { ServiceError } from "./errors.ts";

export type CallerDialect = "rpc" | "json-lines" | "http" | "in-process";

export interface Caller {
  readonly dialect: CallerDialect;
  /** Whether the caller presented the service token. */
  readonly authenticated: boolean;
}

export interface CallRequest {
  readonly method: string;
  readonly path: string;
  readonly data: unknown;
  readonly caller: Caller;
  /** Milliseconds the caller waits; 0 for no deadline. */
  readonly timeoutMs: number;
}

export class Call {
  readonly method: string;
  readonly path: string;
  readonly data: unknown;
  readonly caller: Caller;
  readonly deadline: number | undefined;
  #controller: AbortController | undefined;
  #endedEarly: ServiceError | undefined;
  #rejectGuarded: ((error: ServiceError) => void) | undefined;

  constructor(request: CallRequest) {
    this.method = request.method;
    this.path = request.path;
    this.data = request.data;
    this.caller = request.caller;
    this.deadline = request.timeoutMs > 0 ? Date.now() + request.timeoutMs : undefined;
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.#endedEarly !== undefined && !this.#controller.signal.aborted) {
      this.#controller.abort(this.#endedEarly);
    }
    return this.#controller.signal;
  }

  /** Set when the call was cancelled or timed out: its result is not wanted any more. */
  get endedEarly(): ServiceError | undefined {
    return this.#endedEarly;
  }

  /** Ends the call early: fires the handler's signal and rejects the guarded result. */
  end(error: ServiceError): void {
    if (this.#endedEarly !== undefined) return;
    this.#endedEarly = error;
    this.#controller?.abort(error);
    this.#rejectGuarded?.(error);
  }

  cancel(): void {
    this.end(new ServiceError("CANCELLED", "the caller cancelled the request"));
  }

  /** The handler's result, unless the deadline passes or the call is ended first. */
  guard<T>(result: Promise<T>): Promise<T> {
    if (this.#endedEarly !== undefined) return Promise.reject(this.#endedEarly);
    const remaining = this.deadline === undefined ? undefined : this.deadline - Date.now();
    if (remaining !== undefined && remaining <= 0) {
      this.end(timeoutError());
      return Promise.reject(this.#endedEarly);
    }
    return new Promise<T>((resolve, reject) => {
      this.#rejectGuarded = reject;
      const timer = remaining === undefined ? undefined : setTimeout(expire, remaining, this);
      result.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}

function expire(call: Call): void {
  call.end(timeoutError());
}

function timeoutError(): ServiceError {
  return new ServiceError("TIMEOUT", "the request's deadline passed before the handler answered");
}
