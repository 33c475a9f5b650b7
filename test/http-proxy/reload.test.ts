import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Agent, request } from "undici";
import { loadProxyConfig, ProxyServer } from "../../src/proxy/server/index.ts";
import { type Backend, startBackend } from "./harness.ts";

let dir: string;
let blue: Backend;
let green: Backend;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nexus-reload-"));
  blue = await startBackend((_req, res) => res.end("blue"));
  green = await startBackend((_req, res) => res.end("green"));
});
after(async () => {
  await blue.close();
  await green.close();
  await rm(dir, { recursive: true, force: true });
});

function configText(backend: Backend, extraListener = ""): string {
  return `
listeners:
  - protocol: http
    port: 0
${extraListener}
resolver:
  routes:
    app.test: ${backend.endpoint}
ssrf:
  allow: [127.0.0.0/8]
`;
}

test("a reload under traffic switches backends without a failed request", async () => {
  const path = join(dir, "proxy.yaml");
  await writeFile(path, configText(blue));
  const server = await ProxyServer.start(loadProxyConfig(path));
  const [address] = server.addresses();
  assert.ok(address);
  const agent = new Agent({ connections: 8 });
  const seen = { blue: 0, green: 0, failed: 0 };
  let running = true;
  const client = async () => {
    while (running) {
      try {
        const response = await request(`http://127.0.0.1:${address.port}/`, {
          headers: { host: "app.test" },
          dispatcher: agent,
        });
        const body = await response.body.text();
        if (response.statusCode === 200 && (body === "blue" || body === "green")) seen[body] += 1;
        else seen.failed += 1;
      } catch {
        seen.failed += 1;
      }
      for (const check of checks) check();
    }
  };
  const clients = Array.from({ length: 8 }, client);
  try {
    await waitFor(() => seen.blue >= 50);
    await writeFile(path, configText(green));
    const warnings = await server.reload(loadProxyConfig(path));
    assert.deepEqual(warnings, []);
    const greenBefore = seen.green;
    await waitFor(() => seen.green >= greenBefore + 50);
    running = false;
    await Promise.all(clients);
  } finally {
    running = false;
    await agent.close();
    await server.close();
  }
  assert.equal(seen.failed, 0);
  assert.ok(seen.blue >= 50 && seen.green >= 50);
});

test("a reload opens new listeners, closes removed ones and names what needs a restart", async () => {
  const path = join(dir, "listeners.yaml");
  await writeFile(path, configText(blue));
  const server = await ProxyServer.start(loadProxyConfig(path));
  try {
    await writeFile(
      path,
      `${configText(blue, "  - protocol: tcp\n    port: 0\n    route: app.test")}\nbackend:\n  connectTimeoutMs: 1234\n`,
    );
    const warnings = await server.reload(loadProxyConfig(path));
    assert.deepEqual(warnings, ["backend changed; it applies after a restart"]);
    assert.deepEqual(
      server.addresses().map((a) => a.protocol),
      ["http", "tcp"],
    );
    await writeFile(path, configText(blue).replace("protocol: http", "protocol: tls"));
    await server.reload(loadProxyConfig(path));
    assert.deepEqual(
      server.addresses().map((a) => a.protocol),
      ["tls"],
    );
  } finally {
    await server.close();
  }
});

test("every protocol of the config opens its listener", async () => {
  const path = join(dir, "all.yaml");
  const protocols = ["http", "postgres", "mysql", "smtp", "tls"];
  await writeFile(
    path,
    `listeners:
${protocols.map((protocol) => `  - { protocol: ${protocol}, port: 0 }`).join("\n")}
  - { protocol: tcp, port: 0, route: app.test }
resolver: { routes: { app.test: ${blue.endpoint} } }
`,
  );
  const server = await ProxyServer.start(loadProxyConfig(path));
  try {
    const addresses = server.addresses();
    assert.deepEqual(
      addresses.map((a) => a.protocol),
      [...protocols, "tcp"],
    );
    assert.ok(addresses.every((a) => a.port > 0));
  } finally {
    await server.close();
  }
});

/** Checks waiting on traffic; each answered request runs them. */
const checks = new Set<() => void>();

function waitFor(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!condition()) return;
      checks.delete(check);
      resolve();
    };
    checks.add(check);
    check();
  });
}
