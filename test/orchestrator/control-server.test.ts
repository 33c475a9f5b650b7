import assert from "node:assert/strict";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import fc from "fast-check";
import { ControlError, ControlServer } from "../../src/orchestrator/control-server.ts";
import { tempDir } from "./harness.ts";

const dir = await tempDir("control");
const server = new ControlServer(join(dir, "nexus.control"), async (request) => {
  if (request.command === "echo") return request;
  throw new ControlError(`unknown command "${request.command}"`);
});
await server.listen();
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends each line on one connection and collects one reply line per request line. */
async function exchange(lines: readonly string[]): Promise<unknown[]> {
  const socket = connect(server.path);
  await once(socket, "connect");
  const replies = createInterface({ input: socket, crlfDelay: Infinity });
  socket.write(lines.map((line) => `${line}\n`).join(""));
  const answers: unknown[] = [];
  for await (const reply of replies) {
    answers.push(JSON.parse(reply));
    if (answers.length === lines.length) break;
  }
  socket.destroy();
  return answers;
}

test("answers each request line with one reply line, errors included", async () => {
  assert.deepEqual(
    await exchange([
      '{"command":"echo","service":"users"}',
      "not json",
      '{"nothing":1}',
      '{"command":"explode"}',
    ]),
    [
      { ok: true, result: { command: "echo", service: "users" } },
      { ok: false, error: "expected one JSON object per line" },
      { ok: false, error: 'expected a "command" string' },
      { ok: false, error: 'unknown command "explode"' },
    ],
  );
});

test("any line gets exactly one reply and the server keeps serving", async () => {
  const line = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.json({ maxDepth: 3 }),
    fc.record({ command: fc.string({ maxLength: 20 }) }).map((r) => JSON.stringify(r)),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 5 }), async (lines) => {
      const clean = lines.map((l) => l.replace(/[\r\n]/g, " "));
      const replies = (await exchange(clean)) as { ok: boolean }[];
      assert.equal(replies.length, clean.length);
      for (const reply of replies) assert.equal(typeof reply.ok, "boolean");
    }),
    { numRuns: 60 },
  );
  assert.deepEqual(await exchange(['{"command":"echo"}']), [
    { ok: true, result: { command: "echo" } },
  ]);
});

test("a connection sending too much is cut off; others are unaffected", async () => {
  const socket = connect(server.path);
  await once(socket, "connect");
  socket.on("error", () => {});
  socket.write("x".repeat(200 * 1024));
  const reply = createInterface({ input: socket, crlfDelay: Infinity });
  for await (const line of reply) {
    assert.deepEqual(JSON.parse(line), {
      ok: false,
      error: "too much input on one control connection",
    });
    break;
  }
  socket.destroy();
  assert.deepEqual(await exchange(['{"command":"echo"}']), [
    { ok: true, result: { command: "echo" } },
  ]);
});
