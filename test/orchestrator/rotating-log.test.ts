import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { RotatingLog } from "../../src/orchestrator/rotating-log.ts";

const dir = await mkdtemp(join(tmpdir(), "nexus-log-"));
after(() => rm(dir, { recursive: true, force: true }));

test("rotates by size, keeps the newest files, never splits a line", async () => {
  const path = join(dir, "users.log");
  const log = new RotatingLog(path, { maxBytes: 1024, keep: 2 });
  const line = (n: number) => `line ${String(n).padStart(4, "0")} ${"x".repeat(90)}`;
  for (let n = 0; n < 100; n += 1) log.writeLine(line(n));
  log.close();
  assert.deepEqual((await readdir(dir)).sort(), ["users.log", "users.log.1", "users.log.2"]);
  const current = (await readFile(path, "utf8")).split("\n").filter(Boolean);
  const previous = (await readFile(`${path}.1`, "utf8")).split("\n").filter(Boolean);
  for (const file of [path, `${path}.1`, `${path}.2`]) {
    assert.ok((await readFile(file)).length <= 1024);
  }
  assert.equal(current.at(-1), line(99));
  assert.equal(Number(previous.at(-1)!.slice(5, 9)) + 1, Number(current[0]!.slice(5, 9)));
  assert.ok([...current, ...previous].every((l) => /^line \d{4} x{90}$/.test(l)));
});

test("appends to an existing file after a restart of the supervisor", async () => {
  const path = join(dir, "orders.log");
  const first = new RotatingLog(path, { maxBytes: 4096, keep: 1 });
  first.writeLine("first");
  first.close();
  const again = new RotatingLog(path, { maxBytes: 4096, keep: 1 });
  again.writeLine("second");
  again.close();
  assert.equal(await readFile(path, "utf8"), "first\nsecond\n");
});
