import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { BackendRouter } from "../../src/proxy/core/backend-router.ts";
import { relay } from "../../src/proxy/core/relay.ts";
import type { ResolveContext } from "../../src/proxy/core/resolver.ts";
import { LOOPBACK_RANGES } from "../../src/proxy/core/ssrf-guard.ts";
import { echoBackend } from "./harness.ts";

const tcp: ResolveContext = { protocol: "tcp" };

test("relay pipes a client and its backend both ways", async () => {
  const backend = await echoBackend();
  const router = new BackendRouter({
    resolver: { resolve: () => ({ endpoint: backend.endpoint }) },
    ssrf: { allow: LOOPBACK_RANGES },
  });
  const received: Buffer[] = [];
  const client = new Duplex({
    read() {},
    write(chunk, _encoding, done) {
      received.push(chunk);
      if (Buffer.concat(received).length >= 5) this.destroy();
      done();
    },
  });
  try {
    const socket = await router.connect(await router.route("app", tcp), tcp);
    const totals = relay(client, socket);
    client.push("hello");
    const { toBackend } = await totals;
    assert.equal(Buffer.concat(received).toString(), "hello");
    assert.equal(toBackend, 5);
  } finally {
    await backend.close();
  }
});
