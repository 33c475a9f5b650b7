// Routes a key and connects to its backend on behalf of a client that may
// hang up while it waits (a cold start can take seconds).
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { BackendRouter, ResolveContext, Route } from "../core/index.ts";

export interface OpenedBackend {
  readonly route: Route;
  readonly backend: Socket;
}

/**
 * The route and connected backend for `key`, or undefined when the client
 * closed in the meantime (the backend is then closed too): a client that
 * leaves stops waiting and gives its place in a cold-start queue back.
 * Rejects with a ResolverError.
 */
export async function openBackend(
  router: BackendRouter,
  key: string,
  context: ResolveContext,
  client: Duplex,
): Promise<OpenedBackend | undefined> {
  if (client.destroyed) return undefined;
  const left = new AbortController();
  const onClose = () => left.abort(new Error("the client closed the connection"));
  client.once("close", onClose);
  try {
    const route = await router.route(key, context, { signal: left.signal });
    const backend = await router.connect(route, context, { signal: left.signal });
    if (!client.destroyed) return { route, backend };
    backend.destroy();
    return undefined;
  } catch (error) {
    if (left.signal.aborted) return undefined;
    throw error;
  } finally {
    client.off("close", onClose);
  }
}
