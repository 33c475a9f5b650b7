// Opens one TCP or Unix-socket connection to a backend: the SSRF guard picks
// the address (when one is given), then a plain connect, all under one
// deadline and an optional abort signal. Failures are ResolverErrors.
import { type NetConnectOpts, connect as netConnect, type Socket } from "node:net";
import { abortable } from "./abortable.ts";
import { withDirectReads } from "./direct-reads.ts";
import type { Endpoint } from "./endpoint.ts";
import { ResolverError } from "./resolver-error.ts";
import type { SsrfGuard } from "./ssrf-guard.ts";

export interface DialOptions {
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
  /** Checks and pins the backend address; undefined when the guard is off. */
  readonly guard?: SsrfGuard | undefined;
  /** What the backend serves, for error messages (a routing key). */
  readonly label: string;
  /** Keep the socket writable after the backend ends its side (half-close). */
  readonly allowHalfOpen?: boolean | undefined;
  /** Reads go into a buffer of the socket's own, for relay() to take directly (see DirectReads). */
  readonly directReads?: boolean | undefined;
}

export async function dial(endpoint: Endpoint, options: DialOptions): Promise<Socket> {
  const { timeoutMs, signal, label, allowHalfOpen = false } = options;
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  const stop = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
  const stopped = () =>
    deadline.signal.aborted
      ? new ResolverError("TIMEOUT", `backend for ${label} did not accept within ${timeoutMs} ms`, {
          reason: "connect_timeout",
        })
      : new ResolverError("UNAVAILABLE", "connection attempt aborted", { cause: signal?.reason });
  try {
    const target: NetConnectOpts =
      endpoint.kind === "unix"
        ? { path: endpoint.path, allowHalfOpen }
        : {
            allowHalfOpen,
            host: options.guard
              ? await abortable(options.guard.check(endpoint.host), stop, stopped)
              : endpoint.host,
            port: endpoint.port,
            noDelay: true,
          };
    return await connectSocket(target, options.directReads === true, stop, stopped, label);
  } finally {
    clearTimeout(timer);
  }
}

function connectSocket(
  target: NetConnectOpts,
  directReads: boolean,
  stop: AbortSignal,
  stopped: () => ResolverError,
  label: string,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (stop.aborted) return reject(stopped());
    const socket = directReads
      ? withDirectReads((onread) => netConnect({ ...target, onread }))
      : netConnect(target);
    const fail = (error: ResolverError) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error) =>
      fail(
        new ResolverError("UNAVAILABLE", `backend for ${label} is unreachable`, {
          reason: "backend_unreachable",
          cause: error,
        }),
      );
    const onAbort = () => fail(stopped());
    const cleanup = () => {
      socket.off("error", onError);
      stop.removeEventListener("abort", onAbort);
    };
    socket.once("error", onError);
    stop.addEventListener("abort", onAbort, { once: true });
    socket.once("connect", () => {
      cleanup();
      resolve(socket);
    });
  });
}
