import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { loadOrCreateToken, TokenCheck } from "./token.ts";

test("the token is created once, crypto-random, mode 0600, in a 0770 directory", async () => {
  const root = await mkdtemp(join(tmpdir(), "nexus-token-"));
  try {
    const dir = join(root, "sockets");
    const path = join(dir, "token");
    const [first, concurrent] = await Promise.all([
      loadOrCreateToken(path),
      loadOrCreateToken(path),
    ]);
    assert.equal(first, concurrent);
    assert.match(first, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await loadOrCreateToken(path), first);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o770);
    const other = await loadOrCreateToken(join(root, "other-token"));
    assert.notEqual(other, first);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("many concurrent creators all get the one token, and leave only the token file", async () => {
  const root = await mkdtemp(join(tmpdir(), "nexus-token-"));
  try {
    const path = join(root, "sockets", "token");
    const tokens = await Promise.all(Array.from({ length: 20 }, () => loadOrCreateToken(path)));
    assert.equal(new Set(tokens).size, 1);
    assert.deepEqual(await readdir(join(root, "sockets")), ["token"]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("a token check accepts only the exact token", () => {
  const check = new TokenCheck("s3cret");
  assert.equal(check.matches("s3cret"), true);
  assert.equal(check.matches("s3cre"), false);
  assert.equal(check.matches("s3cret "), false);
  assert.equal(check.matches(""), false);
  assert.equal(check.matches(undefined), false);
  assert.equal(check.matches(42), false);
});
