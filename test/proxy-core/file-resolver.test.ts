import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  FileResolver,
  RoutesFileError,
  type RoutesLogger,
} from "../../src/proxy/core/file-resolver.ts";
import type { ResolveContext } from "../../src/proxy/core/resolver.ts";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { echoBackend } from "./harness.ts";

const tcp: ResolveContext = { protocol: "tcp" };

function logger(): RoutesLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    info: () => {},
    warn: (details, message) =>
      warnings.push(`${message}: ${(details as { err: Error }).err.message}`),
  };
}

function folder(): { dir: string; path: string; write(text: string): void; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), "nexus-routes-"));
  const path = join(dir, "routes.yaml");
  let version = 0;
  return {
    dir,
    path,
    // Written beside and renamed over, as editors and config tools do.
    write: (text) => {
      const next = join(dir, `.routes.${version++}.tmp`);
      writeFileSync(next, text);
      renameSync(next, path);
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

test("reads YAML with plain and detailed routes and wildcards", () => {
  const files = folder();
  try {
    files.write(
      [
        "routes:",
        "  api.example.com: 127.0.0.1:8080",
        '  "*.example.com": unix:/run/app.sock',
        "  billing:",
        '    endpoint: "[::1]:5432"',
        "    timeout: 2000",
        "    metadata: { database: bills }",
      ].join("\n"),
    );
    const resolver = new FileResolver({ path: files.path, watch: false });
    assert.deepEqual(resolver.resolve("api.example.com"), { endpoint: "127.0.0.1:8080" });
    assert.deepEqual(resolver.resolve("www.example.com"), { endpoint: "unix:/run/app.sock" });
    assert.deepEqual(resolver.resolve("billing"), {
      endpoint: "[::1]:5432",
      timeout: 2000,
      metadata: { database: "bills" },
    });
    assert.throws(() => resolver.resolve("other"), ResolverError);
    assert.deepEqual(resolver.getStats(), { routes: 3 });
  } finally {
    files.dispose();
  }
});

test("reads JSON too, and refuses an invalid first file with a precise error", () => {
  const files = folder();
  try {
    files.write(JSON.stringify({ routes: { app: "127.0.0.1:1" } }));
    assert.equal(
      new FileResolver({ path: files.path, watch: false }).resolve("app").endpoint,
      "127.0.0.1:1",
    );
    files.write("routes:\n  app: not-an-endpoint\n");
    assert.throws(
      () => new FileResolver({ path: files.path, watch: false }),
      /routes file .*expected host:port/s,
    );
    files.write("routes: [\n");
    assert.throws(() => new FileResolver({ path: files.path, watch: false }), RoutesFileError);
    files.write("rootes:\n  app: 127.0.0.1:1\n");
    assert.throws(() => new FileResolver({ path: files.path, watch: false }), RoutesFileError);
  } finally {
    files.dispose();
  }
});

test("a changed file is reloaded; a bad one keeps the last good routes and says why", async () => {
  const files = folder();
  files.write("routes:\n  app: 127.0.0.1:1\n");
  const log = logger();
  const resolver = new FileResolver({ path: files.path, logger: log });
  try {
    files.write("routes:\n  app: 127.0.0.1:2\n");
    await once(resolver, "reload");
    assert.equal(resolver.resolve("app").endpoint, "127.0.0.1:2");

    files.write("routes:\n  app: 127.0.0.1:99999\n");
    const [error] = await once(resolver, "invalid");
    assert.ok(error instanceof RoutesFileError);
    assert.equal(resolver.resolve("app").endpoint, "127.0.0.1:2");
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0]!, /keeping the last good routes: .*port is out of range/s);

    rmSync(files.path);
    await once(resolver, "invalid");
    assert.equal(resolver.resolve("app").endpoint, "127.0.0.1:2");
  } finally {
    resolver.close();
    files.dispose();
  }
});

test("a reload under traffic keeps open connections and routes new ones anew", async () => {
  const first = await echoBackend();
  const second = await echoBackend();
  const files = folder();
  files.write(`routes:\n  app: ${first.endpoint}\n`);
  const resolver = new FileResolver({ path: files.path, logger: logger() });
  const router = loopbackRouter(resolver, { cache: false });
  try {
    const before = await router.connect(await router.route("app", tcp), tcp);
    files.write(`routes:\n  app: ${second.endpoint}\n`);
    await once(resolver, "reload");
    const after = await router.connect(await router.route("app", tcp), tcp);
    for (const socket of [before, after]) {
      socket.write("still here");
      const [data] = (await once(socket, "data")) as [Buffer];
      assert.equal(data.toString(), "still here");
    }
    assert.equal(first.accepted.length, 1);
    assert.equal(second.accepted.length, 1);
    before.destroy();
    after.destroy();
  } finally {
    await router.close();
    files.dispose();
    await first.close();
    await second.close();
  }
});
