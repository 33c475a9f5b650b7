// Active health checks. Every backend the router has routed to is checked on
// an interval: a TCP (or Unix-socket) connect, or an HTTP GET of a path that
// must answer an expected status. `fall` failures in a row mark it down,
// `rise` successes in a row mark it up again. Backends not routed to for a
// while are forgotten, so a changing resolver does not grow the set forever.
// Emits `change` (backend, healthy) when a verdict flips, `forget` (backend)
// when a backend is no longer checked.
import { EventEmitter } from "node:events";
import { request } from "node:http";
import type { Socket } from "node:net";
import { type Endpoint, formatEndpoint } from "./endpoint.ts";

export interface HealthCheckOptions {
  /** Time between two checks of a backend, in ms (default 2000). */
  readonly intervalMs?: number;
  /** How long one check may take, in ms (default 1000). */
  readonly timeoutMs?: number;
  /** Successes in a row that mark a down backend up (default 2). */
  readonly rise?: number;
  /** Failures in a row that mark an up backend down (default 3). */
  readonly fall?: number;
  /** Check with an HTTP GET instead of a bare connect. */
  readonly http?: { readonly path: string; readonly expectStatus?: number; readonly host?: string };
  /** Stop checking a backend not routed to for this long, in ms (default 5 min). */
  readonly forgetAfterMs?: number;
}

/** Opens a connection to a backend the way real traffic would (SSRF guard included). */
export type HealthDial = (endpoint: Endpoint, timeoutMs: number) => Promise<Socket>;

interface Backend {
  readonly endpoint: Endpoint;
  healthy: boolean;
  /** Consecutive results that disagree with `healthy`. */
  streak: number;
  lastRoutedAt: number;
  timer: NodeJS.Timeout | undefined;
}

export class HealthChecker extends EventEmitter<{
  change: [backend: string, healthy: boolean];
  forget: [backend: string];
}> {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #rise: number;
  readonly #fall: number;
  readonly #http: HealthCheckOptions["http"];
  readonly #forgetAfterMs: number;
  readonly #dial: HealthDial;
  readonly #backends = new Map<string, Backend>();
  #closed = false;

  constructor(options: HealthCheckOptions, dial: HealthDial) {
    super();
    this.#intervalMs = options.intervalMs ?? 2000;
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.#rise = options.rise ?? 2;
    this.#fall = options.fall ?? 3;
    this.#http = options.http;
    this.#forgetAfterMs = options.forgetAfterMs ?? 300_000;
    this.#dial = dial;
  }

  /** Starts checking `endpoint` (if not yet) and notes that traffic wants it. */
  watch(endpoint: Endpoint): void {
    if (this.#closed) return;
    const name = formatEndpoint(endpoint);
    const known = this.#backends.get(name);
    if (known) {
      known.lastRoutedAt = Date.now();
      return;
    }
    const backend: Backend = {
      endpoint,
      healthy: true,
      streak: 0,
      lastRoutedAt: Date.now(),
      timer: undefined,
    };
    this.#backends.set(name, backend);
    this.#schedule(name, backend, 0);
  }

  /** False only for a watched backend that failed its checks; unknown backends count as healthy. */
  isHealthy(backend: string): boolean {
    return this.#backends.get(backend)?.healthy ?? true;
  }

  get watched(): readonly string[] {
    return [...this.#backends.keys()];
  }

  close(): void {
    this.#closed = true;
    for (const backend of this.#backends.values()) clearTimeout(backend.timer);
    this.#backends.clear();
  }

  #schedule(name: string, backend: Backend, delayMs: number): void {
    backend.timer = setTimeout(() => void this.#run(name, backend), delayMs);
    backend.timer.unref();
  }

  async #run(name: string, backend: Backend): Promise<void> {
    if (Date.now() - backend.lastRoutedAt > this.#forgetAfterMs) {
      this.#backends.delete(name);
      this.emit("forget", name);
      return;
    }
    const passed = await this.#check(backend.endpoint);
    if (this.#closed || this.#backends.get(name) !== backend) return;
    this.#record(name, backend, passed);
    this.#schedule(name, backend, this.#intervalMs);
  }

  #record(name: string, backend: Backend, passed: boolean): void {
    if (passed === backend.healthy) {
      backend.streak = 0;
      return;
    }
    backend.streak += 1;
    if (backend.streak >= (backend.healthy ? this.#fall : this.#rise)) {
      backend.healthy = passed;
      backend.streak = 0;
      this.emit("change", name, passed);
    }
  }

  async #check(endpoint: Endpoint): Promise<boolean> {
    let socket: Socket;
    try {
      socket = await this.#dial(endpoint, this.#timeoutMs);
    } catch {
      return false;
    }
    if (!this.#http) {
      socket.destroy();
      return true;
    }
    const host = endpoint.kind === "unix" ? "localhost" : formatEndpoint(endpoint);
    return httpCheck(socket, this.#http, this.#timeoutMs, host);
  }
}

function httpCheck(
  socket: Socket,
  check: NonNullable<HealthCheckOptions["http"]>,
  timeoutMs: number,
  defaultHost: string,
): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (passed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(passed);
    };
    const req = request(
      {
        createConnection: () => socket,
        path: check.path,
        method: "GET",
        headers: { host: check.host ?? defaultHost, connection: "close" },
      },
      (res) => {
        res.resume();
        finish(res.statusCode === (check.expectStatus ?? 200));
      },
    );
    // The request's own `timeout` option does not arm on a socket handed in already connected.
    const timer = setTimeout(() => req.destroy(), timeoutMs);
    req.once("error", () => finish(false));
    req.end();
  });
}
