// A backend that sleeps until the test lets it wake, behind a router that
// queues one connection at most per cold start: enough to see whether a
// client that leaves while waiting gives its place back.
import type { BackendRouter, Resolver, Result } from "../../src/proxy/core/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";

export class HeldAsleep implements Resolver {
  /** Resolves when the proxy first asks the backend to wake. */
  readonly wakeRequested: Promise<void>;
  readonly router: BackendRouter;
  readonly #endpoint: string;
  #awake = false;
  #requested!: () => void;

  constructor(endpoint: string) {
    this.#endpoint = endpoint;
    this.wakeRequested = new Promise((resolve) => {
      this.#requested = resolve;
    });
    this.router = loopbackRouter(this, { coldStart: { maxQueue: 1, pollIntervalMs: 20 } });
  }

  resolve(): Result {
    return { endpoint: this.#endpoint, asleep: !this.#awake };
  }

  wake(): void {
    this.#requested();
  }

  /** From now on the backend answers awake. */
  letWake(): void {
    this.#awake = true;
  }

  /** Resolves once a waiting connection has given up its place in the queue. */
  async waiterLeft(): Promise<void> {
    for (let poll = 0; poll < 500; poll += 1) {
      const { values } = await this.router.metrics.coldStarts.get();
      if (values.some((value) => value.labels.outcome === "cold_start_failed")) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error("no waiting connection gave up its place");
  }
}
