// The configuration's `proxy` section: its defaults, and its mistakes
// reported with their keys like the rest of the file's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseConfig } from "../../src/orchestrator/config-file.ts";

const file = "/app/nexus.config.ts";
const services = { users: { entry: "./users.ts" } };

test("a proxy listener needs only a port; every service answers at <service>.localhost", () => {
  const config = parseConfig({ services, proxy: { listeners: [{ port: 8081 }] } }, file);
  assert.deepEqual(config.proxy, {
    listeners: [{ host: "127.0.0.1", port: 8081 }],
    domain: "localhost",
    hosts: {},
    coldStartTimeoutMs: 30_000,
  });
  assert.equal(parseConfig({ services }, file).proxy, false);
});

test("proxy mistakes are reported with their keys", () => {
  const value = {
    services,
    proxy: { listeners: [], hosts: { "shop.example.com": "nobody" }, domain: "bad domain" },
  };
  assert.throws(
    () => parseConfig(value, file),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems.map((p) => p.key).sort(), [
        "proxy.domain",
        "proxy.hosts.shop.example.com",
        "proxy.listeners",
      ]);
      assert.match(error.message, /unknown service "nobody" \(services are: users\)/);
      return true;
    },
  );
});
