// The runner's drainTimeoutMs reaches every listener: a session still open
// when the proxy closes is cut at the configured deadline, not the adapters'
// own default (10 s), and a reload that changes it applies to open listeners.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { ProxyServer, parseProxyConfig } from "../../src/proxy/server/index.ts";

const backendSockets = new Set<Socket>();
let backend: Server;
before(async () => {
  backend = createServer((socket) => {
    backendSockets.add(socket);
    socket.pipe(socket);
  });
  backend.listen(0, "127.0.0.1");
  await once(backend, "listening");
});
after(() => {
  for (const socket of backendSockets) socket.destroy();
  backend.close();
});

function config(drainTimeoutMs: number) {
  const { port } = backend.address() as { port: number };
  return parseProxyConfig(
    {
      listeners: [{ protocol: "tcp", host: "127.0.0.1", port: 0, route: "echo" }],
      resolver: { routes: { echo: `127.0.0.1:${port}` } },
      ssrf: { allow: ["127.0.0.0/8"] },
      drainTimeoutMs,
    },
    "inline",
    "/",
  );
}

/** Opens a relayed session, closes the server, and says how long the session lasted after. */
async function closeWithSessionOpen(server: ProxyServer): Promise<number> {
  const [address] = server.addresses();
  assert.ok(address, "the TCP listener is open");
  const client = connect({ host: "127.0.0.1", port: address.port });
  client.write("ping");
  const [echoed] = (await once(client, "data")) as [Buffer];
  assert.equal(echoed.toString(), "ping");
  const startedAt = performance.now();
  const clientClosed = once(client, "close");
  await server.close();
  await clientClosed;
  return performance.now() - startedAt;
}

// The bound is far below the adapters' 10 s default and far above the 200 ms configured.
test("an open TCP session is cut at the configured drain deadline", async () => {
  const server = await ProxyServer.start(config(200));
  assert.ok((await closeWithSessionOpen(server)) < 8000, "the configured deadline was not used");
});

test("a reload that shortens the drain deadline applies to listeners already open", async () => {
  const server = await ProxyServer.start(config(60_000));
  await server.reload(config(200));
  assert.ok((await closeWithSessionOpen(server)) < 8000, "the reloaded deadline was not used");
});
