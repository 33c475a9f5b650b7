import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Socket } from "node:net";
import { test } from "node:test";
import type { ResolveContext } from "../../src/proxy/core/index.ts";
import { loopbackRouter } from "./loopback-router.ts";

const tcp: ResolveContext = { protocol: "tcp" };

test("loopbackRouter reaches a backend on 127.0.0.1, from routes or from a resolver", async () => {
  const server = createServer((socket) => socket.end("hi"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const endpoint = `127.0.0.1:${(server.address() as { port: number }).port}`;
  let resolved = 0;
  const fromRoutes = loopbackRouter({ app: endpoint });
  const fromResolver = loopbackRouter(
    {
      resolve: () => {
        resolved += 1;
        return { endpoint };
      },
    },
    { cache: false },
  );
  try {
    for (const router of [fromRoutes, fromResolver, fromResolver]) {
      const socket: Socket = await router.connect(await router.route("app", tcp), tcp);
      const [data] = (await once(socket, "data")) as [Buffer];
      assert.equal(data.toString(), "hi");
      socket.destroy();
    }
    assert.equal(resolved, 2, "the options reach the router: no cache");
  } finally {
    await fromRoutes.close();
    await fromResolver.close();
    server.close();
  }
});
