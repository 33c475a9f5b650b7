import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { test } from "node:test";
import { dial } from "../../src/proxy/core/dial.ts";
import { parseEndpoint } from "../../src/proxy/core/endpoint.ts";
import { HealthChecker } from "../../src/proxy/core/health-checker.ts";
import type { ResolveContext } from "../../src/proxy/core/resolver.ts";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { echoBackend } from "./harness.ts";

const plainDial = (endpoint: Parameters<typeof dial>[0], timeoutMs: number) =>
  dial(endpoint, { timeoutMs, label: "health check" });

test("TCP checks mark a backend down after `fall` failures and up after `rise` successes", async () => {
  const backend = await echoBackend();
  const checker = new HealthChecker({ intervalMs: 20, fall: 2, rise: 3 }, plainDial);
  const verdicts: boolean[] = [];
  checker.on("change", (_backend, healthy) => verdicts.push(healthy));
  try {
    checker.watch(parseEndpoint(backend.endpoint));
    assert.equal(checker.isHealthy(backend.endpoint), true);
    await backend.close();
    await once(checker, "change");
    assert.equal(checker.isHealthy(backend.endpoint), false);
    const revived = await echoBackend(backend.port);
    await once(checker, "change");
    assert.equal(checker.isHealthy(backend.endpoint), true);
    assert.deepEqual(verdicts, [false, true]);
    await revived.close();
  } finally {
    checker.close();
  }
});

test("HTTP checks follow the status of a flapping backend", async () => {
  let status = 200;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    res.writeHead(status).end();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const endpoint = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const checker = new HealthChecker(
    { intervalMs: 20, fall: 2, rise: 2, http: { path: "/healthz", expectStatus: 204 } },
    plainDial,
  );
  try {
    status = 204;
    checker.watch(parseEndpoint(endpoint));
    status = 503;
    assert.deepEqual(await once(checker, "change"), [endpoint, false]);
    status = 204;
    assert.deepEqual(await once(checker, "change"), [endpoint, true]);
    status = 200; // not the expected status
    assert.deepEqual(await once(checker, "change"), [endpoint, false]);
    assert.ok(paths.every((path) => path === "/healthz"));
  } finally {
    checker.close();
    server.closeAllConnections();
    server.close();
  }
});

test("an HTTP check that hangs counts as a failure", async () => {
  const server = createServer(() => {}); // never answers
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const endpoint = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const checker = new HealthChecker(
    { intervalMs: 20, timeoutMs: 100, fall: 1, http: { path: "/" } },
    plainDial,
  );
  try {
    checker.watch(parseEndpoint(endpoint));
    assert.deepEqual(await once(checker, "change"), [endpoint, false]);
  } finally {
    checker.close();
    server.closeAllConnections();
    server.close();
  }
});

test("the router fails fast for a backend its health checks mark down", async () => {
  const backend = await echoBackend();
  const http: ResolveContext = { protocol: "http" };
  const router = loopbackRouter(
    { app: backend.endpoint },
    { healthCheck: { intervalMs: 20, fall: 1 } },
  );
  try {
    const route = await router.route("app", http);
    assert.deepEqual(router.health?.watched, [backend.endpoint]);
    await backend.close();
    await once(router.health!, "change");
    const refused = await router.connect(route, http).catch((error: unknown) => error);
    assert.ok(refused instanceof ResolverError);
    assert.equal(refused.code, "UNAVAILABLE");
    assert.equal(refused.reason, "backend_unhealthy");
    const metrics = await router.metrics.registry.metrics();
    assert.match(
      metrics,
      new RegExp(`nexus_proxy_backend_healthy\\{backend="${backend.endpoint}"\\} 0`),
    );
  } finally {
    await router.close();
  }
});

test("a backend no longer routed to is forgotten, and checked again once routed", async () => {
  const backend = await echoBackend();
  const checker = new HealthChecker({ intervalMs: 20, forgetAfterMs: 30 }, plainDial);
  try {
    checker.watch(parseEndpoint(backend.endpoint));
    assert.deepEqual(await once(checker, "forget"), [backend.endpoint]);
    assert.deepEqual(checker.watched, []);
    checker.watch(parseEndpoint(backend.endpoint));
    assert.deepEqual(checker.watched, [backend.endpoint]);
  } finally {
    checker.close();
    await backend.close();
  }
});
