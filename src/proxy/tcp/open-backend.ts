// Routes a key and connects to its backend on behalf of a client that may
// hang up while it waits (a cold start can take seconds).
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { BackendRouter, ConnectOptions, ResolveContext, Route } from "../core/index.ts";

export interface OpenedBackend {
  readonly route: Route;
  readonly backend: Socket;
}

/**
 * The route and connected backend for `key`, or undefined when the client
 * left in the meantime (the backend is then closed too): a client that
 * leaves stops waiting and gives its place in a cold-start queue back.
 * Rejects with a ResolverError. `allowHalfOpen` is passed to the backend
 * connection, for relays that keep a half-close.
 *
 * A client has left once it is closed, or once it has ended its side with
 * no bytes left unread: it has nothing for the backend. (A socket made with
 * allowHalfOpen does not close by itself after its end, so the end is what
 * tells; one that has bytes waiting ends only when they are read.)
 */
export async function openBackend(
  router: BackendRouter,
  key: string,
  context: ResolveContext,
  client: Duplex,
  options: Pick<ConnectOptions, "allowHalfOpen"> = {},
): Promise<OpenedBackend | undefined> {
  if (hasLeft(client)) return undefined;
  const left = new AbortController();
  const onLeft = () => left.abort(new Error("the client closed the connection"));
  client.once("close", onLeft);
  client.once("end", onLeft);
  try {
    const route = await router.route(key, context, { signal: left.signal });
    const backend = await router.connect(route, context, {
      signal: left.signal,
      allowHalfOpen: options.allowHalfOpen,
    });
    if (!hasLeft(client)) return { route, backend };
    backend.destroy();
    return undefined;
  } catch (error) {
    if (left.signal.aborted) return undefined;
    throw error;
  } finally {
    client.off("close", onLeft);
    client.off("end", onLeft);
  }
}

function hasLeft(client: Duplex): boolean {
  return client.destroyed || client.readableEnded;
}
