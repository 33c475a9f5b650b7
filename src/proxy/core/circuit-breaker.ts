// A circuit breaker for one backend. Closed: traffic flows and outcomes are
// counted. Open: callers fail fast, without touching the backend. After the
// open time one probe is let through (half-open); its success closes the
// breaker, its failure reopens it for longer than the last time. Each
// attempt let through holds a pass, so that an attempt that ends without an
// outcome gives back the probe slot only if it was the probe. A probe that
// has not been judged within the last open time (a slow upload, say) no
// longer holds the slot: one slow client cannot keep the breaker half-open.

export type BreakerState = "closed" | "open" | "half_open";

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker (default 5). */
  readonly consecutiveFailures?: number;
  /** Failure ratio in a window that opens the breaker (default 0.5)… */
  readonly errorRatio?: number;
  /** …once the window holds at least this many outcomes (default 20). */
  readonly minimumRequests?: number;
  /** Length of the counting window in ms (default 10 s). */
  readonly windowMs?: number;
  /** Open time after the first opening in ms (default 1 s); doubles on each reopening. */
  readonly openMs?: number;
  /** Upper bound of the open time in ms (default 60 s). */
  readonly maxOpenMs?: number;
  readonly now?: () => number;
}

/** An attempt the breaker let through; `probe` when it is the one half-open probe. */
export interface BreakerPass {
  readonly probe: boolean;
}

const CLOSED_PASS: BreakerPass = { probe: false };

export class CircuitBreaker {
  readonly #consecutiveLimit: number;
  readonly #errorRatio: number;
  readonly #minimumRequests: number;
  readonly #windowMs: number;
  readonly #openMs: number;
  readonly #maxOpenMs: number;
  readonly #now: () => number;
  readonly #onChange: (state: BreakerState) => void;

  #state: BreakerState = "closed";
  #consecutiveFailures = 0;
  #windowStart: number;
  #windowTotal = 0;
  #windowFailures = 0;
  /** Openings in a row without a successful probe in between. */
  #reopenings = 0;
  #openUntil = 0;
  /** The pass of the half-open probe in flight, and when it was given. */
  #probe: BreakerPass | undefined;
  #probeSince = 0;
  /** How long the breaker was last open: also how long a probe may hold the slot. */
  #lastOpenMs = 0;

  constructor(
    options: CircuitBreakerOptions = {},
    onChange: (state: BreakerState) => void = () => {},
  ) {
    this.#consecutiveLimit = options.consecutiveFailures ?? 5;
    this.#errorRatio = options.errorRatio ?? 0.5;
    this.#minimumRequests = options.minimumRequests ?? 20;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#openMs = options.openMs ?? 1000;
    this.#maxOpenMs = options.maxOpenMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#onChange = onChange;
    this.#windowStart = this.#now();
  }

  get state(): BreakerState {
    if (this.#state === "open" && this.#now() >= this.#openUntil) this.#enter("half_open");
    return this.#state;
  }

  /** Milliseconds until a probe may go through (0 unless open). */
  get retryAfterMs(): number {
    return this.state === "open" ? this.#openUntil - this.#now() : 0;
  }

  /** Asks to let one attempt through (undefined: refused); half-open lets only one probe at a time. */
  tryAcquire(): BreakerPass | undefined {
    switch (this.state) {
      case "closed":
        return CLOSED_PASS;
      case "open":
        return undefined;
      case "half_open": {
        const now = this.#now();
        if (this.#probe && now - this.#probeSince < this.#lastOpenMs) return undefined;
        this.#probe = { probe: true };
        this.#probeSince = now;
        return this.#probe;
      }
    }
  }

  /** The attempt with `pass` ended without telling anything about the backend (e.g. aborted). */
  release(pass: BreakerPass): void {
    if (pass === this.#probe) this.#probe = undefined;
  }

  recordSuccess(): void {
    this.#count(false);
    this.#consecutiveFailures = 0;
    if (this.state === "half_open") {
      this.#reopenings = 0;
      this.#resetWindow();
      this.#enter("closed");
    }
  }

  recordFailure(): void {
    this.#count(true);
    this.#consecutiveFailures += 1;
    const state = this.state;
    if (state === "half_open") this.#open();
    else if (state === "closed" && this.#tripped()) this.#open();
  }

  #tripped(): boolean {
    if (this.#consecutiveFailures >= this.#consecutiveLimit) return true;
    return (
      this.#windowTotal >= this.#minimumRequests &&
      this.#windowFailures / this.#windowTotal >= this.#errorRatio
    );
  }

  #open(): void {
    const openFor = Math.min(this.#openMs * 2 ** this.#reopenings, this.#maxOpenMs);
    this.#lastOpenMs = openFor;
    this.#reopenings += 1;
    this.#openUntil = this.#now() + openFor;
    this.#consecutiveFailures = 0;
    this.#resetWindow();
    this.#enter("open");
  }

  #count(failed: boolean): void {
    if (this.#now() - this.#windowStart >= this.#windowMs) this.#resetWindow();
    this.#windowTotal += 1;
    if (failed) this.#windowFailures += 1;
  }

  #resetWindow(): void {
    this.#windowStart = this.#now();
    this.#windowTotal = 0;
    this.#windowFailures = 0;
  }

  #enter(state: BreakerState): void {
    this.#probe = undefined;
    if (state === this.#state) return;
    this.#state = state;
    this.#onChange(state);
  }
}
