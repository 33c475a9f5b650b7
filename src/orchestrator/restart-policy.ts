// Decides what happens after an instance exits on its own: restart it after a
// delay that grows ×1.5 per quick failure (up to 15 s, back to the first step
// once an instance stayed up 30 s), or give up when it crashed too often in a
// window (a crash loop).

export interface RestartRules {
  readonly policy: "always" | "on-failure" | "never";
  /** This many restarts within `windowMs` count as a crash loop. */
  readonly maxRestarts: number;
  readonly windowMs: number;
}

export interface BackoffSteps {
  readonly firstDelayMs: number;
  readonly factor: number;
  readonly maxDelayMs: number;
  /** An instance that ran this long resets the delay to the first step. */
  readonly stableAfterMs: number;
}

export const defaultBackoff: BackoffSteps = {
  firstDelayMs: 100,
  factor: 1.5,
  maxDelayMs: 15_000,
  stableAfterMs: 30_000,
};

export type RestartDecision =
  | { readonly action: "restart"; readonly delayMs: number }
  | { readonly action: "stay-down" }
  | { readonly action: "crash-loop"; readonly reason: string };

export class RestartPolicy {
  readonly #rules: RestartRules;
  readonly #backoff: BackoffSteps;
  #nextDelayMs: number;
  /** When recent restarts happened, oldest first, pruned to the window. */
  #recent: number[] = [];

  constructor(rules: RestartRules, backoff: BackoffSteps = defaultBackoff) {
    this.#rules = rules;
    this.#backoff = backoff;
    this.#nextDelayMs = backoff.firstDelayMs;
  }

  /** `failed` is true for a non-zero exit code or a signal. */
  afterExit(failed: boolean, uptimeMs: number, now = Date.now()): RestartDecision {
    const { policy, maxRestarts, windowMs } = this.#rules;
    if (policy === "never" || (policy === "on-failure" && !failed)) return { action: "stay-down" };
    if (uptimeMs >= this.#backoff.stableAfterMs) this.#nextDelayMs = this.#backoff.firstDelayMs;
    this.#recent = this.#recent.filter((at) => now - at < windowMs);
    if (this.#recent.length >= maxRestarts) {
      return {
        action: "crash-loop",
        reason: `exited ${this.#recent.length + 1} times within ${windowMs} ms`,
      };
    }
    this.#recent.push(now);
    const delayMs = this.#nextDelayMs;
    this.#nextDelayMs = Math.min(delayMs * this.#backoff.factor, this.#backoff.maxDelayMs);
    return { action: "restart", delayMs };
  }

  /** After an operator restarts an errored service by hand, it starts from scratch. */
  reset(): void {
    this.#recent = [];
    this.#nextDelayMs = this.#backoff.firstDelayMs;
  }
}
