import assert from "node:assert/strict";
import { test } from "node:test";
import pino from "pino";
import { z } from "zod";
import { Client } from "../transport/client.ts";
import { Call, type Caller } from "./call.ts";
import { defineService } from "./define.ts";
import { ServiceRuntime } from "./runtime.ts";

const log = pino({ level: "silent" });
const trusted: Caller = { dialect: "in-process", authenticated: true };
const anonymous: Caller = { dialect: "in-process", authenticated: false };

const shop = defineService({ name: "shop" })
  .route("GET /items/:id", ({ params }) => ({ id: params.id }))
  .route("DELETE /items/:id", () => undefined)
  .route("GET /files/*", ({ params }) => params["*"])
  .route("GET /open", { public: true }, () => "open")
  .route(
    "POST /orders",
    {
      input: z.object({
        address: z.object({ zip: z.string().regex(/^\d{5}$/) }),
        lines: z.array(z.object({ qty: z.number().int().positive() })),
      }),
    },
    ({ data }) => data.lines.length,
  );

function call(method: string, path: string, data?: unknown, caller = trusted): Call {
  return new Call({ method, path, data, caller, timeoutMs: 0 });
}

async function withRuntime(run: (runtime: ServiceRuntime) => Promise<void>): Promise<void> {
  const client = new Client({ log });
  const runtime = await ServiceRuntime.start(shop, log, client);
  try {
    await run(runtime);
  } finally {
    await runtime.stop();
    await client.close();
  }
}

test("routes match by method and path, with parameters and wildcards", () =>
  withRuntime(async (runtime) => {
    assert.deepEqual(await runtime.dispatch(call("GET", "/items/a%20b")), { id: "a b" });
    assert.deepEqual(await runtime.dispatch(call("GET", "/items/7/")), { id: "7" });
    assert.equal(await runtime.dispatch(call("GET", "/files/a/b.txt")), "a/b.txt");
    assert.equal(await runtime.dispatch(call("DELETE", "/items/7")), undefined);
  }));

test("a path with other methods is METHOD_NOT_ALLOWED naming them; no path is NOT_FOUND", () =>
  withRuntime(async (runtime) => {
    await assert.rejects(runtime.dispatch(call("PUT", "/items/7")), {
      code: "METHOD_NOT_ALLOWED",
      details: { allow: ["GET", "DELETE"] },
    });
    await assert.rejects(runtime.dispatch(call("GET", "/nothing")), { code: "NOT_FOUND" });
  }));

test("only public routes answer callers without the token", () =>
  withRuntime(async (runtime) => {
    assert.equal(await runtime.dispatch(call("GET", "/open", undefined, anonymous)), "open");
    await assert.rejects(runtime.dispatch(call("GET", "/items/1", undefined, anonymous)), {
      code: "UNAUTHORIZED",
    });
  }));

test("schema failures are BAD_REQUEST naming each nested field", () =>
  withRuntime(async (runtime) => {
    const bad = { address: { zip: "12" }, lines: [{ qty: 1 }, { qty: 0 }] };
    await assert.rejects(runtime.dispatch(call("POST", "/orders", bad)), (error: unknown) => {
      const { code, details } = error as { code: string; details: { issues: { field: string }[] } };
      assert.equal(code, "BAD_REQUEST");
      assert.deepEqual(
        details.issues.map((issue) => issue.field),
        ["data.address.zip", "data.lines.1.qty"],
      );
      return true;
    });
    await assert.rejects(runtime.dispatch(call("POST", "/orders")), {
      code: "BAD_REQUEST",
      message: /data: /,
    });
    const good = { address: { zip: "12345" }, lines: [{ qty: 2 }] };
    assert.equal(await runtime.dispatch(call("POST", "/orders", good)), 1);
  }));

test("a call cancelled while its input is validated never reaches the handler", async () => {
  let handled = 0;
  const slow = defineService({ name: "slow" }).route(
    "POST /work",
    { input: z.object({ n: z.number() }).refine(async () => true) },
    () => ++handled,
  );
  const client = new Client({ log });
  const runtime = await ServiceRuntime.start(slow, log, client);
  try {
    const cancelled = call("POST", "/work", { n: 1 });
    const dispatched = runtime.dispatch(cancelled);
    cancelled.cancel();
    await assert.rejects(dispatched, { code: "CANCELLED" });
    assert.equal(handled, 0);
    assert.equal(await runtime.dispatch(call("POST", "/work", { n: 2 })), 1);
  } finally {
    await runtime.stop();
    await client.close();
  }
});

test("dependencies are built once, before start; stop runs once", async () => {
  const order: string[] = [];
  const counter = defineService({
    name: "counter",
    dependencies: () => {
      order.push("dependencies");
      return { count: 0 };
    },
    start: (deps) => {
      order.push(`start ${deps.count}`);
    },
    stop: (deps) => {
      order.push(`stop ${deps.count}`);
    },
  }).route("POST /inc", ({ deps }) => ++deps.count);
  const client = new Client({ log });
  const runtime = await ServiceRuntime.start(counter, log, client);
  assert.equal(await runtime.dispatch(call("POST", "/inc")), 1);
  assert.equal(await runtime.dispatch(call("POST", "/inc")), 2);
  await runtime.stop();
  await runtime.stop();
  await client.close();
  assert.deepEqual(order, ["dependencies", "start 0", "stop 2"]);
});

test("route keys and service names are checked when defined", () => {
  assert.throws(() => defineService({ name: "bad name" }), TypeError);
  // @ts-expect-error not a route key
  assert.throws(() => defineService({ name: "ok" }).route("FETCH /x", () => 1), TypeError);
});
