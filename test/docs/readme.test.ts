// The README's service example is code users copy first: run it as written.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;

test("the README's service example serves and answers typed calls", async () => {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const example = /### Write a service\n+```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(example, "the README has a ts block under 'Write a service'");
  const socketDir = await mkdtemp(join(tmpdir(), "nexus-readme-"));
  // Inside the project, so that `import … from "nexus"` resolves to this package.
  const script = join(root, "examples", `.readme-example-${process.pid}.ts`);
  try {
    await writeFile(
      script,
      `${example}
const created = await api.call("POST /user", { data: { id: "7", name: "Ada" } });
const fetched = await api.call("GET /user/:id", { params: { id: "7" } });
console.log(JSON.stringify({ created, fetched }));
process.exit(0);
`,
    );
    const { stdout } = await run(process.execPath, [script], {
      env: { ...process.env, NEXUS_SOCKET_DIR: socketDir },
      timeout: 60_000,
    });
    assert.deepEqual(JSON.parse(stdout.trim().split("\n").at(-1) ?? ""), {
      created: { created: "7" },
      fetched: { id: "7", name: "Ada" },
    });
  } finally {
    await rm(script, { force: true });
    await rm(socketDir, { recursive: true, force: true });
  }
});
