// What the circuit breaker hears about one admitted request. A half-open
// probe is judged as soon as its response head arrives: the backend has
// answered, so the breaker closes then, not when a long body (a stream, a
// download) ends while every other request waits. Other requests are judged
// by how their exchange ends. A body that breaks after the head still counts
// as a failure.
import type { Admission, BackendRouter, Route } from "../core/index.ts";

export class BreakerVerdict {
  readonly #router: BackendRouter;
  readonly #route: Route;
  readonly #admission: Admission;
  #given = false;

  constructor(router: BackendRouter, route: Route, admission: Admission) {
    this.#router = router;
    this.#route = route;
    this.#admission = admission;
  }

  /** The response head arrived. */
  readonly answered = (): void => {
    if (this.#given || !this.#admission.pass?.probe) return;
    this.#given = true;
    this.#router.reportSuccess(this.#route);
  };

  /** The whole response arrived: the backend is up and speaking HTTP, whatever the status. */
  succeeded(): void {
    if (!this.#given) this.#router.reportSuccess(this.#route);
  }

  /** The backend broke the exchange. */
  failed(): void {
    this.#router.reportFailure(this.#route);
  }

  /** The exchange ended without telling anything about the backend: its pass goes back. */
  inconclusive(): void {
    this.#router.reportInconclusive(this.#route, this.#admission);
  }
}
