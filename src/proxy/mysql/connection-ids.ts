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
   * The backend thread id behind `proxyId` when that session lives on the
   * same server as `route`; undefined otherwise.
   */
  backendIdOnSameServer(proxyId: number, route: Route): number | undefined {
    const thread = this.#threads.get(proxyId);
    if (!thread) return undefined;
    const sameServer = formatEndpoint(thread.route.endpoint) === formatEndpoint(route.endpoint);
    return sameServer ? thread.backendThreadId : undefined;
  }
}
