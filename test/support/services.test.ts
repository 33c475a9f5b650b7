import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { mariadb, nats, postgres, redis, requireService } from "./services.ts";

test("every real component the suite relies on is reachable", async () => {
  for (const service of [postgres, mariadb, redis, nats]) await requireService(service);
});

test("an absent service fails with its name and address, not a skip", async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  await assert.rejects(
    requireService({ name: "Ghost", host: "127.0.0.1", port, hint: "start it" }),
    /Ghost is needed on 127\.0\.0\.1:\d+ but .*\(start it\)/,
  );
});
