import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { loadRoutesFile } from "../../src/proxy/core/index.ts";
import {
  loadProxyConfig,
  ProxyConfigError,
  parseProxyConfig,
} from "../../src/proxy/server/index.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nexus-proxy-config-"));
});
after(() => rm(dir, { recursive: true, force: true }));

const minimal = {
  listeners: [{ protocol: "http", port: 8080 }],
  resolver: { routes: { "a.test": "127.0.0.1:9000" } },
};

test("a minimal config gets its defaults", () => {
  const config = parseProxyConfig(minimal, "inline", "/etc/nexus");
  assert.equal(config.workers, 1);
  assert.equal(config.drainTimeoutMs, 10_000);
  assert.deepEqual(config.ssrf, { enabled: true, allow: [] });
  const [listener] = config.listeners;
  assert.equal(listener?.host, "127.0.0.1");
  assert.equal(listener?.protocol === "http" && listener.telemetryHeaders, false);
});

test("every protocol has a listener shape, and relative files are resolved against the config", () => {
  const config = parseProxyConfig(
    {
      listeners: [
        { protocol: "http", port: 80, host: "0.0.0.0", limits: { maxBodyBytes: 1024 } },
        {
          protocol: "postgres",
          port: 6432,
          routeBy: { option: "tenant" },
          tls: { cert: "c.pem", key: "k.pem" },
        },
        { protocol: "mysql", port: 3307, defaultRoute: "main" },
        { protocol: "smtp", port: 2525, routeBy: "recipient" },
        { protocol: "tls", port: 8443 },
        { protocol: "tcp", port: 7000, route: "cache" },
      ],
      resolver: { file: "routes.yaml" },
    },
    "inline",
    "/etc/nexus",
  );
  assert.equal(config.resolver.file, "/etc/nexus/routes.yaml");
  const postgres = config.listeners[1];
  assert.equal(postgres?.protocol === "postgres" && postgres.tls?.cert, "/etc/nexus/c.pem");
});

test("mistakes are reported with their key path", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...minimal, listeners: [] }, /listeners/],
    [
      { ...minimal, listeners: [{ protocol: "gopher", port: 70 }] },
      /listeners\[0\]\.protocol|protocol/,
    ],
    [{ ...minimal, listeners: [{ protocol: "http", port: 70000 }] }, /listeners\[0\]\.port/],
    [{ ...minimal, listeners: [{ protocol: "tcp", port: 7000 }] }, /listeners\[0\]\.route/],
    [
      { ...minimal, listeners: [{ protocol: "http", port: 1, limits: { maxBodyByte: 1 } }] },
      /maxBodyByte/,
    ],
    [
      { ...minimal, resolver: { routes: { "a.test": "nowhere" } } },
      /resolver\.routes\.a\.test|a\.test/,
    ],
    [{ ...minimal, resolver: {} }, /exactly one of resolver\.routes or resolver\.file/],
    [{ ...minimal, resolver: { routes: { "a.*.test": "127.0.0.1:1" } } }, /resolver\.routes/],
    [{ ...minimal, workers: 0 }, /workers/],
    [
      {
        ...minimal,
        listeners: [
          { protocol: "http", port: 80 },
          { protocol: "tls", port: 80 },
        ],
      },
      /two listeners on 127\.0\.0\.1:80/,
    ],
  ];
  for (const [document, expected] of cases) {
    assert.throws(
      () => parseProxyConfig(document, "proxy.yaml", "/"),
      (error: Error) => error instanceof ProxyConfigError && expected.test(error.message),
      JSON.stringify(document),
    );
  }
});

test("inline routes take every form a routes file takes", async () => {
  const routes = {
    "a.test": "127.0.0.1:9000",
    "*.b.test": "unix:/run/b.sock",
    c: { endpoint: "[::1]:5432", timeout: 2000, metadata: { database: "bills" }, asleep: false },
  };
  const config = parseProxyConfig({ ...minimal, resolver: { routes } }, "inline", "/");
  assert.deepEqual(config.resolver.routes, routes);
  const file = join(dir, "routes.yaml");
  await writeFile(file, JSON.stringify({ routes }));
  assert.equal(loadRoutesFile(file).size, 3);
  assert.throws(
    () =>
      parseProxyConfig(
        { ...minimal, resolver: { routes: { c: { endpoint: "127.0.0.1:1", weight: 2 } } } },
        "inline",
        "/",
      ),
    /weight/,
  );
});

test("a file that is not YAML says where", async () => {
  const path = join(dir, "broken.yaml");
  await writeFile(path, "listeners:\n  - protocol: http\n   port: 1\n");
  assert.throws(
    () => loadProxyConfig(path),
    (error: Error) => {
      assert.ok(error instanceof ProxyConfigError);
      assert.match(error.message, /broken\.yaml.*line 3/s);
      return true;
    },
  );
  assert.throws(() => loadProxyConfig(join(dir, "missing.yaml")), /ENOENT/);
});

test("the documented example config is valid", () => {
  const config = loadProxyConfig(new URL("../../examples/proxy.yaml", import.meta.url).pathname);
  assert.deepEqual(
    config.listeners.map((listener) => listener.protocol),
    ["http", "postgres", "mysql", "smtp", "tls", "tcp"],
  );
});
