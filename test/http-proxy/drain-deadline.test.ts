// The runner's drainTimeoutMs reaches every listener: a session still open
// when the proxy closes is cut at the configured deadline, not the adapters'
// own default (10 s).
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { test } from "node:test";
import { ProxyServer, parseProxyConfig } from "../../src/proxy/server/index.ts";

test("an open TCP session is cut at the configured drain deadline", async () => {
  const backendSockets = new Set<Socket>();
  const backend = createServer((socket) => {
    backendSockets.add(socket);
    socket.pipe(socket);
  });
  backend.listen(0, "127.0.0.1");
  await once(backend, "listening");
  const backendPort = (backend.address() as { port: number }).port;
  const config = parseProxyConfig(
    {
      listeners: [{ protocol: "tcp", host: "127.0.0.1", port: 0, route: "echo" }],
      resolver: { routes: { echo: `127.0.0.1:${backendPort}` } },
      ssrf: { allow: ["127.0.0.0/8"] },
      drainTimeoutMs: 200,
    },
    "inline",
    "/",
  );
  const server = await ProxyServer.start(config);
  try {
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
    // Far below the adapters' 10 s default, far above the configured 200 ms.
    assert.ok(performance.now() - startedAt < 8000, "the configured deadline was not used");
  } finally {
    for (const socket of backendSockets) socket.destroy();
    backend.close();
  }
});
