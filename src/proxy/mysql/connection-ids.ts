// The proxy greets each client before it knows the backend, so the
// connection id a client learns is the proxy's, not the backend thread's.
// This map links them, so that `KILL <id>` sent by another session reaches
// the right thread on the right server.
import type { Route } from "../core/index.ts";
import { formatEndpoint } from "../core/index.ts";

export interface BackendThread {
  /** The connection id the backend gave this session in its greeting. */
  readonly backendThreadId: number;
  readonly route: Route;
}

/** Proxy ids start high so that they do not meet real backend thread ids. */
const FIRST_PROXY_ID = 1_000_000_000;

export class ConnectionIds {
  readonly #threads = new Map<number, BackendThread>();
  #next = FIRST_PROXY_ID;

  allocate(): number {
    const id = this.#next;
    this.#next = this.#next >= 0xffffffff ? FIRST_PROXY_ID : this.#next + 1;
    return id;
  }

  register(proxyId: number, thread: BackendThread): void {
    this.#threads.set(proxyId, thread);
  }

  unregister(proxyId: number): void {
    this.#threads.delete(proxyId);
  }

  /**
   * The backend thread id for `proxyId` when that session lives on the same
   * backend as `route`; undefined when the id is not one of the proxy's.
   * Throws when the session lives on another server.
   */
  backendIdFor(proxyId: number, route: Route): number | undefined {
    const thread = this.#threads.get(proxyId);
    if (!thread) return undefined;
    if (formatEndpoint(thread.route.endpoint) !== formatEndpoint(route.endpoint)) {
      throw new RangeError(`connection ${proxyId} is on another server`);
    }
    return thread.backendThreadId;
  }

  get size(): number {
    return this.#threads.size;
  }
}
