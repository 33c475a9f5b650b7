import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { test } from "node:test";
import { freePort } from "./ports.ts";

test("freePort returns a loopback port a server can bind", async () => {
  const port = await freePort();
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536);
  const server = createServer();
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  assert.equal((server.address() as { port: number }).port, port);
  server.close();
  await once(server, "close");
});
