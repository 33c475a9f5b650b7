import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { test } from "node:test";
import { Client } from "undici";
import { BackendRouter } from "../../src/proxy/core/backend-router.ts";
import type { ResolveContext } from "../../src/proxy/core/resolver.ts";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";
import { StaticResolver } from "../../src/proxy/core/static-resolver.ts";
import { undiciConnector } from "../../src/proxy/core/undici-connector.ts";
import { loopbackRouter } from "../support/loopback-router.ts";

const http: ResolveContext = { protocol: "http" };

test("an undici client opens its connections through the router", async () => {
  const server = createServer((req, res) => res.end(`hello from ${req.url}`));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const endpoint = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const connected: string[] = [];
  const routes = new StaticResolver({ "app.test": endpoint });
  const router = loopbackRouter({
    resolve: (key) => routes.resolve(key),
    onConnect: (key) => connected.push(key),
  });
  const route = await router.route("app.test", http);
  const client = new Client(`http://${endpoint}`, {
    connect: undiciConnector(router, route, http),
  });
  try {
    for (const path of ["/a", "/b"]) {
      const response = await client.request({ path, method: "GET" });
      assert.equal(response.statusCode, 200);
      assert.equal(await response.body.text(), `hello from ${path}`);
    }
    assert.deepEqual(connected, ["app.test"], "keep-alive reuses the one connection");
  } finally {
    await client.close();
    server.close();
  }
});

test("the router's refusals reach undici as ResolverErrors", async () => {
  const router = new BackendRouter({
    resolver: new StaticResolver({ meta: "169.254.169.254:80" }),
  });
  const route = await router.route("meta", http);
  const client = new Client("http://169.254.169.254", {
    connect: undiciConnector(router, route, http),
  });
  try {
    const error = await client
      .request({ path: "/", method: "GET" })
      .catch((thrown: unknown) => thrown);
    assert.ok(error instanceof ResolverError);
    assert.equal(error.code, "FORBIDDEN");
  } finally {
    await client.close();
  }
});
