// Smoke test of `npm run bench:rpc`: the harness runs one system in two
// processes for a fraction of a second and writes its JSON and doc section;
// every system's client gets the expected reply from its server. It checks
// the shape of what is written and that nothing is left behind, never the
// speed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { loadSystem, SYSTEM_NAMES } from "../../bench/rpc/systems/index.ts";

const run = promisify(execFile);
const RUNNER = fileURLToPath(new URL("../../bench/rpc/run.ts", import.meta.url));
const DOC = [
  "# RPC benchmark",
  "<!-- bench:rpc results start -->",
  "old table",
  "<!-- bench:rpc results end -->",
  "Analysis stays.",
  "",
].join("\n");

test("the RPC benchmark writes one entry per system and number in flight, and cleans up", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nexus-bench-smoke-"));
  try {
    const out = join(dir, "rpc.json");
    const doc = join(dir, "doc.md");
    await writeFile(doc, DOC);
    // TMPDIR points the runner's sockets and temporary files into `dir`.
    await run(
      process.execPath,
      [
        RUNNER,
        ...["--systems", "nexus-rpc", "--inflight", "1,4", "--rounds", "1"],
        ...["--warmup", "0.1", "--duration", "0.3", "--out", out, "--doc", doc],
      ],
      { env: { ...process.env, TMPDIR: dir }, timeout: 120_000 },
    );

    const written = JSON.parse(await readFile(out, "utf8"));
    assert.equal(written.benchmark, "rpc");
    assert.ok(!Number.isNaN(Date.parse(written.date)));
    assert.equal(typeof written.machine.before.cpus, "number");
    assert.equal(written.machine.after.load_average.length, 3);
    assert.deepEqual(
      written.results.map((entry: { system: string; inflight: number }) => [
        entry.system,
        entry.inflight,
      ]),
      [
        ["nexus-rpc", 1],
        ["nexus-rpc", 4],
      ],
    );
    for (const entry of written.results) {
      for (const field of ["rps", "p50_us", "p99_us", "client_cpu_us", "server_cpu_us"]) {
        assert.ok(entry[field] > 0, `${field} of ${entry.system}/${entry.inflight}`);
      }
      assert.ok(entry.p99_us >= entry.p50_us);
    }

    const updated = await readFile(doc, "utf8");
    assert.doesNotMatch(updated, /old table/);
    assert.match(updated, /\| Nexus framed RPC \| 4 \| multiplexed on one connection \|/);
    assert.match(updated, /\| serial p50 ÷ raw echo p50 \| ≤ 1\.30× \| not measured \|/);
    assert.match(updated, /Analysis stays\./);

    assert.deepEqual((await readdir(dir)).sort(), ["doc.md", "rpc.json"]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an unknown system is refused before anything starts", async () => {
  await assert.rejects(
    run(process.execPath, [RUNNER, "--systems", "nope", "--skip-doc"], { timeout: 60_000 }),
    (error: { code: number; stderr: string }) => {
      assert.notEqual(error.code, 0);
      assert.match(error.stderr, /unknown system "nope" \(known: raw-echo, nexus-rpc/);
      return true;
    },
  );
});

test("every system's client gets the expected reply from its server", async () => {
  const dir = await mkdtemp(join(tmpdir(), "nexus-bench-systems-"));
  try {
    for (const name of SYSTEM_NAMES) {
      const system = await loadSystem(name);
      const server = await system.serve(dir);
      try {
        const client = await system.connect(server.address, 4);
        try {
          const replies = await Promise.all(Array.from({ length: 4 }, () => client.call()));
          for (const reply of replies) assert.deepEqual(reply, system.expectedReply, name);
        } finally {
          await client.close();
        }
      } finally {
        await server.close();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
