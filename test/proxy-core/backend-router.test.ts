import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BackendRouter } from "../../src/proxy/core/backend-router.ts";
import type { ResolveContext, Resolver, Result } from "../../src/proxy/core/resolver.ts";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";
import { LOOPBACK_RANGES } from "../../src/proxy/core/ssrf-guard.ts";
import { StaticResolver } from "../../src/proxy/core/static-resolver.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { echoBackend, hangingBackend, refusedPort, rejection } from "./harness.ts";

const http: ResolveContext = { protocol: "http" };

/** A resolver that counts calls and answers when told to. */
class CountingResolver implements Resolver {
  calls = 0;
  invalidated: (string | undefined)[] = [];
  readonly #routes: Record<string, Result>;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => {};

  constructor(routes: Record<string, Result>) {
    this.#routes = routes;
  }

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#open();
  }

  async resolve(key: string): Promise<Result> {
    this.calls += 1;
    await this.#gate;
    const result = this.#routes[key];
    if (!result) throw new ResolverError("NOT_FOUND", `no ${key}`, { reason: "unknown_route" });
    return result;
  }

  invalidateCache(key?: string): void {
    this.invalidated.push(key);
  }
}

test("routes a key and relays bytes to a real backend, calling the hooks", async () => {
  const backend = await echoBackend();
  const events: string[] = [];
  const routes = new StaticResolver({ app: backend.endpoint });
  const resolver: Resolver = {
    resolve: (key) => routes.resolve(key),
    onConnect: (key) => events.push(`connect ${key}`),
    onDisconnect: (key) => events.push(`disconnect ${key}`),
  };
  const router = loopbackRouter(resolver);
  try {
    const route = await router.route("APP", http);
    assert.deepEqual(route.endpoint, { kind: "tcp", host: "127.0.0.1", port: backend.port });
    assert.equal(route.cacheHit, false);
    assert.equal(route.coldStartMs, 0);
    const socket = await router.connect(route, http);
    socket.write("ping");
    const [data] = (await once(socket, "data")) as [Buffer];
    assert.equal(data.toString(), "ping");
    socket.end();
    await once(socket, "close");
    assert.deepEqual(events, ["connect APP", "disconnect APP"]);
  } finally {
    await router.close();
    await backend.close();
  }
});

test("a Unix-socket endpoint is connected without the SSRF guard", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nexus-core-"));
  const path = join(dir, "app.sock");
  const server = createServer((socket) => socket.end("hi"));
  server.listen(path);
  await once(server, "listening");
  const router = new BackendRouter({ resolver: new StaticResolver({ app: `unix:${path}` }) });
  try {
    const socket = await router.connect(await router.route("app", http), http);
    const [data] = (await once(socket, "data")) as [Buffer];
    assert.equal(data.toString(), "hi");
    socket.destroy();
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the SSRF guard is on by default: loopback is refused unless allowed", async () => {
  const backend = await echoBackend();
  const router = new BackendRouter({ resolver: new StaticResolver({ app: backend.endpoint }) });
  try {
    const error = await rejection(router.connect(await router.route("app", http), http));
    assert.equal(error.code, "FORBIDDEN");
    assert.equal(error.reason, "blocked_address");
    assert.equal(backend.accepted.length, 0);
    const metrics = await router.metrics.registry.metrics();
    assert.match(metrics, /nexus_proxy_connect_errors_total\{reason="blocked_address"\} 1/);
  } finally {
    await backend.close();
  }
});

test("a host name is connected at exactly the address the guard checked", async () => {
  const backend = await echoBackend();
  let lookups = 0;
  const router = new BackendRouter({
    resolver: new StaticResolver({ app: `backend.test:${backend.port}` }),
    ssrf: {
      allow: LOOPBACK_RANGES,
      // A rebinding DNS: the first answer is local and allowed, later ones internal.
      lookup: async () => (lookups++ === 0 ? ["127.0.0.1"] : ["10.0.0.1"]),
    },
  });
  try {
    const route = await router.route("app", http);
    const socket = await router.connect(route, http);
    assert.equal(socket.remoteAddress, "127.0.0.1");
    assert.equal(lookups, 1);
    socket.destroy();
    const error = await rejection(router.connect(route, http));
    assert.equal(error.code, "FORBIDDEN");
  } finally {
    await backend.close();
  }
});

test("concurrent misses on one key call the resolver once; later calls hit the cache", async () => {
  const resolver = new CountingResolver({ app: { endpoint: "127.0.0.1:1" } });
  const router = loopbackRouter(resolver);
  resolver.hold();
  const pending = Array.from({ length: 20 }, () => router.route("app", http));
  resolver.release();
  const routes = await Promise.all(pending);
  assert.equal(resolver.calls, 1);
  assert.ok(routes.every((route) => !route.cacheHit));
  const again = await router.route("app", http);
  assert.equal(again.cacheHit, true);
  assert.equal(resolver.calls, 1);
  const metrics = await router.metrics.registry.metrics();
  assert.match(metrics, /nexus_proxy_route_cache_lookups_total\{result="hit"\} 1/);
  assert.match(metrics, /nexus_proxy_resolutions_total\{outcome="ok"\} 1/);
});

test("the cache expires after its TTL and can be invalidated, also in the resolver", async () => {
  const resolver = new CountingResolver({ app: { endpoint: "127.0.0.1:1" } });
  const router = new BackendRouter({ resolver, cache: { ttlMs: 60_000 } });
  await router.route("app", http);
  await router.route("app", http);
  assert.equal(resolver.calls, 1);
  router.invalidate("app");
  assert.deepEqual(resolver.invalidated, ["app"]);
  assert.equal((await router.route("app", http)).cacheHit, false);
  router.invalidate();
  assert.deepEqual(resolver.invalidated, ["app", undefined]);
  await router.route("app", http);
  assert.equal(resolver.calls, 3);

  const shortLived = new CountingResolver({ app: { endpoint: "127.0.0.1:1" } });
  const expiring = new BackendRouter({ resolver: shortLived, cache: { ttlMs: 1 } });
  await expiring.route("app", http);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal((await expiring.route("app", http)).cacheHit, false);
  assert.equal(shortLived.calls, 2);
});

test("NOT_FOUND is cached briefly; other errors are not cached", async () => {
  const resolver = new CountingResolver({});
  const router = new BackendRouter({ resolver, cache: { negativeTtlMs: 60_000 } });
  for (let i = 0; i < 3; i++) {
    const error = await rejection(router.route("missing", http));
    assert.equal(error.code, "NOT_FOUND");
  }
  assert.equal(resolver.calls, 1);

  let failures = 0;
  const broken = new BackendRouter({
    resolver: {
      resolve() {
        failures += 1;
        throw new Error("database down");
      },
    },
  });
  for (let i = 0; i < 2; i++) {
    const error = await rejection(broken.route("app", http));
    assert.equal(error.code, "INTERNAL");
    assert.equal(error.reason, "resolver_failed");
  }
  assert.equal(failures, 2);
});

test("a malformed endpoint from the resolver is an INTERNAL error", async () => {
  const router = new BackendRouter({ resolver: new StaticResolver({ app: "nowhere" }) });
  const error = await rejection(router.route("app", http));
  assert.equal(error.code, "INTERNAL");
});

test("a refusing backend opens its breaker, which then fails fast", async () => {
  const port = await refusedPort();
  const router = loopbackRouter(
    { app: `127.0.0.1:${port}` },
    { breaker: { consecutiveFailures: 2, openMs: 60_000 } },
  );
  const route = await router.route("app", http);
  for (let i = 0; i < 2; i++) {
    const error = await rejection(router.connect(route, http));
    assert.equal(error.reason, "backend_unreachable");
  }
  assert.equal(router.breakerState(`127.0.0.1:${port}`), "open");
  const error = await rejection(router.connect(route, http));
  assert.equal(error.code, "UNAVAILABLE");
  assert.equal(error.reason, "breaker_open");
  assert.ok((error.retryAfterMs ?? 0) > 0);
  const metrics = await router.metrics.registry.metrics();
  assert.match(metrics, new RegExp(`nexus_proxy_breaker_state\\{backend="127.0.0.1:${port}"\\} 1`));
});

test("failures reported by an adapter open the breaker; a success in half-open closes it", async () => {
  const backend = await echoBackend();
  const router = loopbackRouter(
    { app: backend.endpoint },
    { breaker: { consecutiveFailures: 3, openMs: 1 } },
  );
  try {
    const route = await router.route("app", http);
    for (let i = 0; i < 3; i++) router.reportFailure(route);
    assert.notEqual(router.breakerState(backend.endpoint), "closed");
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(router.breakerState(backend.endpoint), "half_open");
    const socket = await router.connect(route, http); // the probe succeeds
    assert.equal(router.breakerState(backend.endpoint), "closed");
    socket.destroy();
  } finally {
    await backend.close();
  }
});

test("a backend that never accepts times out with TIMEOUT/connect_timeout", async () => {
  const backend = await hangingBackend();
  try {
    const router = loopbackRouter({ app: { endpoint: backend.endpoint, timeout: 300 } });
    const error = await rejection(router.connect(await router.route("app", http), http));
    assert.equal(error.code, "TIMEOUT");
    assert.equal(error.reason, "connect_timeout");
  } finally {
    backend.close();
  }
});

test("an aborted connect rejects and does not count against the backend", async () => {
  const backend = await hangingBackend();
  try {
    const router = loopbackRouter(
      { app: backend.endpoint },
      { breaker: { consecutiveFailures: 1 } },
    );
    const controller = new AbortController();
    const pending = router.connect(await router.route("app", http), http, {
      signal: controller.signal,
    });
    controller.abort();
    const error = await rejection(pending);
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(router.breakerState(backend.endpoint), "closed");
  } finally {
    backend.close();
  }
});

test("open backend connections are counted per backend", async () => {
  const backend = await echoBackend();
  const router = loopbackRouter({ app: backend.endpoint });
  try {
    const route = await router.route("app", http);
    const sockets = await Promise.all([router.connect(route, http), router.connect(route, http)]);
    const gauge = `nexus_proxy_backend_connections{backend="${backend.endpoint}"}`;
    assert.ok((await router.metrics.registry.metrics()).includes(`${gauge} 2`));
    sockets[0]!.destroy();
    await once(sockets[0]!, "close");
    assert.ok((await router.metrics.registry.metrics()).includes(`${gauge} 1`));
    sockets[1]!.destroy();
  } finally {
    await backend.close();
  }
});

test("allowHalfOpen keeps the backend writable after the backend ends its side", async () => {
  const late = Promise.withResolvers<string>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
    });
    socket.on("end", () => late.resolve(text));
    socket.end("bye");
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const endpoint = `127.0.0.1:${(server.address() as { port: number }).port}`;
  const router = loopbackRouter({ app: endpoint });
  try {
    const socket = await router.connect(await router.route("app", http), http, {
      allowHalfOpen: true,
    });
    socket.resume();
    await once(socket, "end");
    socket.end("late words");
    assert.equal(await late.promise, "late words");
  } finally {
    await router.close();
    server.close();
  }
});
