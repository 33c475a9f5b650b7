// Lets an undici Client, Pool or Agent open its connections through the
// router, so that the SSRF guard, breakers, timeouts, hooks and metrics
// apply to pooled HTTP too: `new Pool(origin, { connect: undiciConnector(…) })`.
// The socket is plain TCP or Unix; TLS to backends is not done here.
import type { Socket } from "node:net";
import type { BackendRouter, ConnectOptions, Route } from "./backend-router.ts";
import type { ResolveContext } from "./resolver.ts";

/** The shape of undici's `connect` option (buildConnector.connector). */
export type UndiciConnector = (
  options: { readonly hostname: string; readonly protocol: string },
  callback: (...args: [null, Socket] | [Error, null]) => void,
) => void;

export function undiciConnector(
  router: BackendRouter,
  route: Route,
  context: ResolveContext,
  options?: ConnectOptions,
): UndiciConnector {
  return (_target, callback) => {
    router.connect(route, context, options).then(
      (socket) => callback(null, socket),
      (error: Error) => callback(error, null),
    );
  };
}
