import assert from "node:assert/strict";
import { appendFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { follow, lastLines } from "../../src/cli/log-follower.ts";
import { eventually, tempDir } from "../orchestrator/harness.ts";

const dir = await tempDir("follow");
after(() => rm(dir, { recursive: true, force: true }));

test("last lines, then what is appended, across a rotation", async () => {
  const path = join(dir, "users.log");
  await writeFile(path, "one\ntwo\nthree\n");
  const { text, end } = await lastLines(path, 2);
  assert.equal(text, "two\nthree\n");
  assert.equal((await lastLines(path, 0)).text, "");

  let seen = "";
  const stop = new AbortController();
  const following = follow(
    path,
    end,
    (chunk) => {
      seen += chunk.toString();
    },
    stop.signal,
  );
  await appendFile(path, "four\n");
  await eventually("the appended line", () => seen === "four\n");
  // Rotation: the file moves away and a new one starts.
  await rename(path, `${path}.1`);
  await writeFile(path, "five\n");
  await eventually("the new file's line", () => seen === "four\nfive\n");
  stop.abort();
  await following;
});
