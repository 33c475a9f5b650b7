import assert from "node:assert/strict";
import type { RequestListener } from "node:http";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import type { BackendPool } from "../../src/proxy/http/backend/backend-pool.ts";
import type { ResponseHead } from "../../src/proxy/http/backend/response-head.ts";
import { BackendPools } from "../../src/proxy/http/backend-pools.ts";
import { startBackend } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Sends GET / through `pool`; resolves with the response head once it arrives, and the body text. */
function get(pool: BackendPool): Promise<{ head: ResponseHead; body: Promise<string> }> {
  return new Promise((resolve, reject) => {
    let text = "";
    let ended: (body: string) => void = () => {};
    const body = new Promise<string>((done) => {
      ended = done;
    });
    pool.dispatch(
      {
        method: "GET",
        head: "GET / HTTP/1.1\r\nhost: backend\r\n\r\n",
        body: null,
        chunked: false,
        headTimeoutMs: 10_000,
        bodyTimeoutMs: 10_000,
      },
      {
        onHead: (head) => resolve({ head, body }),
        onData: (chunk) => {
          text += chunk.toString();
          return true;
        },
        onEnd: () => ended(text),
        onError: reject,
      },
    );
  });
}

/** Pools with a one-second keep-alive, for routes `key` to a backend running `handler`. */
async function poolsServing(key: string, handler: RequestListener) {
  const backend = await startBackend(handler);
  cleanups.push(() => backend.close());
  const router = new BackendRouter({
    resolver: new StaticResolver({ [key]: backend.endpoint }),
    ssrf: { allow: LOOPBACK_RANGES },
  });
  const pools = new BackendPools(router, { keepAliveTimeoutMs: 1000 });
  cleanups.push(() => pools.close());
  return { router, pools, backend };
}

test("pools of hosts that stopped sending requests are closed; a new request gets a fresh one", async (t) => {
  // The idle sweep runs on an interval; ticking it by hand keeps the test independent of speed.
  t.mock.timers.enable({ apis: ["setInterval"] });
  // A wildcard route: every distinct Host is a route key of its own.
  const { router, pools } = await poolsServing("*.app.test", (_req, res) => res.end("ok"));
  const getFrom = async (host: string): Promise<BackendPool> => {
    const pool = pools.poolFor(await router.route(host, { protocol: "http" }));
    assert.equal(await (await get(pool)).body, "ok");
    return pool;
  };

  const first: BackendPool[] = [];
  for (let i = 0; i < 20; i += 1) first.push(await getFrom(`host${i}.app.test`));
  t.mock.timers.tick(1000);
  const kept = await getFrom("host0.app.test");
  t.mock.timers.tick(1000);

  assert.equal(kept, first[0], "a pool in use is kept");
  assert.ok(!kept.closed);
  assert.ok(
    first.slice(1).every((pool) => pool.closed),
    "pools unused for a whole sweep are closed",
  );
  const again = await getFrom("host1.app.test");
  assert.notEqual(again, first[1]);
  assert.ok(!again.closed);
});

test("a pool with a response still streaming is not closed however long it takes", async (t) => {
  t.mock.timers.enable({ apis: ["setInterval"] });
  let finish: (() => void) | undefined;
  const { router, pools } = await poolsServing("slow.test", (_req, res) => {
    res.write("first ");
    finish = () => res.end("last");
  });

  const pool = pools.poolFor(await router.route("slow.test", { protocol: "http" }));
  const response = await get(pool);
  for (let sweep = 0; sweep < 3; sweep += 1) t.mock.timers.tick(1000);
  assert.ok(!pool.closed);
  finish?.();
  assert.equal(await response.body, "first last");
});

test("a backend's Keep-Alive hint cannot keep a pooled connection open past the pool's keep-alive", {
  timeout: 30_000,
}, async (t) => {
  // No sweep: only the connection's own keep-alive timer may close it.
  t.mock.timers.enable({ apis: ["setInterval"] });
  const { router, pools, backend } = await poolsServing("hint.test", (_req, res) => res.end("ok"));
  // The backend means it: it keeps idle connections for the 300 s it advertises.
  backend.server.keepAliveTimeout = 300_000;
  const pool = pools.poolFor(await router.route("hint.test", { protocol: "http" }));
  const response = await get(pool);
  assert.equal(response.head.keepAliveTimeoutMs, 300_000);
  assert.equal(await response.body, "ok");
  assert.equal(pool.openConnections, 1, "the connection is pooled");
  // A hint of 300 s would keep it for minutes, far past this test's timeout.
  while (pool.openConnections > 0) await sleep(50);
});
