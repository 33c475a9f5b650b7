// A client connected through a one-connection proxy that relays to a
// backend on loopback with the core relay(), for the relay tests: the
// backend's socket on the proxy side is dialed plainly or as the caller says
// (with direct reads, say). Given a kernel splicer, the relay starts once the
// backend is connected.
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { type RelayOptions, type RelayTotals, relay } from "../../src/proxy/core/relay.ts";

export interface Relayed extends AsyncDisposable {
  readonly client: Socket;
  /** The proxy's side of the client connection, and its connection to the backend. */
  readonly proxied: Promise<{ client: Socket; backend: Socket }>;
  readonly totals: Promise<RelayTotals>;
  /** With a splicer: resolves once relay() was called. */
  readonly started: Promise<void>;
}

export interface RelayedOptions extends RelayOptions {
  readonly halfOpen?: boolean;
  /** With a splicer: awaited once the backend is connected, before the relay starts. */
  readonly beforeRelay?: () => Promise<void>;
  /** Opens the proxy's connection to the backend (default: a plain connect). */
  readonly dialBackend?: (port: number, allowHalfOpen: boolean) => Socket;
}

/** Listens on a free loopback port; resolves with it. */
export async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as { port: number }).port;
}

/** `onBackend` gets the backend's server-side socket of the one relayed connection. */
export async function relayed(
  onBackend: (socket: Socket) => void,
  options: RelayedOptions = {},
): Promise<Relayed> {
  const allowHalfOpen = options.halfOpen ?? false;
  const dialBackend =
    options.dialBackend ??
    ((port: number, halfOpen: boolean) =>
      connect({ host: "127.0.0.1", port, allowHalfOpen: halfOpen }));
  const sockets: Socket[] = [];
  const backendServer = createServer({ allowHalfOpen }, (socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    onBackend(socket);
  });
  const backendPort = await listen(backendServer);
  const proxied = Promise.withResolvers<{ client: Socket; backend: Socket }>();
  const totals = Promise.withResolvers<RelayTotals>();
  const started = Promise.withResolvers<void>();
  const proxy = createServer({ allowHalfOpen }, (client) => {
    const backend = dialBackend(backendPort, allowHalfOpen);
    sockets.push(client, backend);
    proxied.resolve({ client, backend });
    // The kernel splices connected sockets only, as adapters relay them.
    if (options.splice === undefined) totals.resolve(relay(client, backend, options));
    else {
      backend.once("connect", async () => {
        await options.beforeRelay?.();
        totals.resolve(relay(client, backend, options));
        started.resolve();
      });
    }
  });
  const client = connect({ host: "127.0.0.1", port: await listen(proxy), allowHalfOpen });
  client.on("error", () => {});
  await once(client, "connect");
  return {
    client,
    proxied: proxied.promise,
    totals: totals.promise,
    started: started.promise,
    async [Symbol.asyncDispose]() {
      for (const socket of [client, ...sockets]) socket.destroy();
      proxy.close();
      backendServer.close();
      await Promise.all([once(proxy, "close"), once(backendServer, "close")]);
    },
  };
}
