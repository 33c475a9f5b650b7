import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/orchestrator/config-file.ts";
import { startWaves } from "../../src/orchestrator/dependency-order.ts";

const dir = await mkdtemp(join(tmpdir(), "nexus-config-"));
after(() => rm(dir, { recursive: true, force: true }));

async function problemsOf(name: string, text: string): Promise<string[]> {
  const file = join(dir, name);
  await writeFile(file, text);
  const error = await loadConfig(file).then(
    () => assert.fail("expected a ConfigError"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof ConfigError, String(error));
  assert.equal(error.file, file);
  return error.problems.map((p) => `${p.key}: ${p.message}`);
}

test("a YAML config with several mistakes reports each with key, expected and found", async () => {
  const problems = await problemsOf(
    "bad.yaml",
    `services:
  users:
    entry: ./users.ts
    instances: two
    dependsOn: [ghost]
    restrat: {}
  Bad_Name:
    entry: x.ts
  a: { entry: a.ts, dependsOn: [b] }
  b: { entry: b.ts, dependsOn: [a] }
gateway:
  port: 99999
  routes:
    - { prefix: /u, service: nobody }
`,
  );
  assert.deepEqual(problems.sort(), [
    "gateway.port: Too big: expected number to be <=65535, found number 99999",
    'gateway.routes.0.service: unknown service "nobody" (services are: users, Bad_Name, a, b)',
    "services.Bad_Name: invalid name: expected a lowercase name of letters, digits and dashes",
    "services.a.dependsOn: dependency cycle: a -> b -> a",
    'services.users.dependsOn.0: unknown service "ghost" (services are: users, Bad_Name, a, b)',
    'services.users.instances: expected number, found string "two"',
    'services.users: unknown key "restrat"',
  ]);
});

test("a missing required key says so", async () => {
  const problems = await problemsOf("missing.yaml", "services:\n  users: { instances: 1 }\n");
  assert.deepEqual(problems, ["services.users.entry: missing (expected string)"]);
});

test("YAML syntax errors and duplicate keys are reported, not thrown raw", async () => {
  const problems = await problemsOf("dup.yaml", "services: {}\nservices: {}\n");
  assert.match(problems[0]!, /unique/i);
});

test("a TS config without a default export is reported", async () => {
  const problems = await problemsOf("nodefault.config.ts", "export const x = 1;\n");
  assert.deepEqual(problems, [": expected a default export made with defineConfig({...})"]);
});

test("an entry module that does not exist is reported", async () => {
  const problems = await problemsOf("noentry.yaml", "services:\n  users: { entry: ./nope.ts }\n");
  assert.deepEqual(problems, [`services.users.entry: no such file: ${join(dir, "nope.ts")}`]);
});

test("a valid TS config gets defaults and absolute paths", async () => {
  const file = join(dir, "good.config.ts");
  await writeFile(join(dir, "users.ts"), "");
  await writeFile(join(dir, "orders.ts"), "");
  await writeFile(
    file,
    `export default { socketDir: "sockets", services: { users: { entry: "./users.ts" },
      orders: { entry: "./orders.ts", dependsOn: ["users"], onDemand: { idleMs: 500 } } } };\n`,
  );
  const config = await loadConfig(file);
  assert.equal(config.socketDir, join(dir, "sockets"));
  assert.equal(config.services.users!.entry, join(dir, "users.ts"));
  assert.equal(config.services.users!.instances, 1);
  assert.equal(config.services.users!.restart.policy, "on-failure");
  assert.deepEqual(config.services.orders!.onDemand, { idleMs: 500, startTimeoutMs: 15_000 });
  assert.equal(config.logs.dir, join(dir, ".nexus/logs"));
  assert.equal(config.gateway, false);
});

test("start waves follow dependsOn", () => {
  assert.deepEqual(startWaves({ web: ["api"], api: ["db", "cache"], db: [], cache: [] }), [
    ["db", "cache"],
    ["api"],
    ["web"],
  ]);
  assert.throws(() => startWaves({ a: ["b"], b: ["c"], c: ["a"] }), /a -> b -> c -> a/);
});
