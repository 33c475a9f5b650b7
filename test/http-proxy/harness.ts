// Real backends and a real proxy on loopback for the HTTP proxy tests, and a
// raw client for requests that well-behaved clients refuse to send.
import { once } from "node:events";
import { createServer, type RequestListener, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import type { BackendRouter, Resolver, StaticRoutes } from "../../src/proxy/core/index.ts";
import { HttpProxy, type HttpProxyOptions } from "../../src/proxy/http/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";

export interface Backend {
  readonly server: Server;
  /** `127.0.0.1:port` or `unix:/path`. */
  readonly endpoint: string;
  /** Connections the backend has accepted so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startBackend(
  handler: RequestListener,
  socketPath?: string,
): Promise<Backend> {
  const server = createServer(handler);
  let accepted = 0;
  server.on("connection", () => {
    accepted += 1;
  });
  if (socketPath) server.listen(socketPath);
  else server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const endpoint = socketPath
    ? `unix:${socketPath}`
    : `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    server,
    endpoint,
    connections: () => accepted,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RunningProxy {
  readonly proxy: HttpProxy;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

export async function startProxy(
  routes: StaticRoutes | Resolver,
  options: Omit<HttpProxyOptions, "router"> = {},
  router?: BackendRouter,
): Promise<RunningProxy> {
  const proxy = new HttpProxy({ router: router ?? loopbackRouter(routes), ...options });
  const { port } = await proxy.listen(0, "127.0.0.1");
  return { proxy, port, url: `http://127.0.0.1:${port}`, close: () => proxy.close() };
}

export interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** Sends `text` as is on a fresh connection and reads until the proxy closes it. */
export async function rawExchange(port: number, text: string | Buffer): Promise<RawResponse> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.write(text);
  await once(socket, "close");
  return parseRaw(Buffer.concat(chunks).toString("latin1"));
}

export function parseRaw(text: string): RawResponse {
  const end = text.indexOf("\r\n\r\n");
  const head = end < 0 ? text : text.slice(0, end);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  return { status, head, body: end < 0 ? "" : text.slice(end + 4) };
}
