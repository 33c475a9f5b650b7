import assert from "node:assert/strict";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { z } from "zod";
import { defineService } from "../../src/service/index.ts";
import type { RequestOutcome } from "../../src/transport/index.ts";
import { encodeFrame, FrameType, PREFACE } from "../../src/wire/index.ts";
import { TOKEN, tempMesh, users } from "./fixtures.ts";
import { RawPeer } from "./raw-socket.ts";

/** Resolves once `target` has dispatched `count` events of `type`. */
function eventsSeen(target: EventTarget, type: string, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const listener = () => {
      if (++seen < count) return;
      target.removeEventListener(type, listener);
      resolve();
    };
    target.addEventListener(type, listener);
  });
}

/**
 * A service whose handlers report when they start and when their signal
 * fires; `GET /held` answers "held" only once the test opens its gate, so a
 * test decides when requests are in flight instead of guessing with timers.
 */
function watchedService() {
  const events = new EventTarget();
  const lifecycle: string[] = [];
  const gate = Promise.withResolvers<void>();
  const definition = defineService({
    name: "watched",
    dependencies: () => ({ events, lifecycle, gate: gate.promise }),
    start: (deps) => {
      deps.lifecycle.push("start");
    },
    stop: (deps) => {
      deps.lifecycle.push("stop");
    },
  })
    .route("GET /wait", ({ deps, signal }) => {
      deps.events.dispatchEvent(new Event("started"));
      return new Promise((_, reject) => {
        signal.addEventListener("abort", () => {
          deps.events.dispatchEvent(new Event("aborted"));
          reject(signal.reason);
        });
      });
    })
    .route("GET /ctx/:id", { input: z.object({ n: z.coerce.number() }) }, (context) => ({
      params: context.params,
      n: context.data.n,
      dialect: context.caller.dialect,
      authenticated: context.caller.authenticated,
      hasDeadline: context.deadline !== undefined,
    }))
    .route("GET /held", async ({ deps }) => {
      deps.events.dispatchEvent(new Event("holding"));
      await deps.gate;
      return "held";
    });
  return { definition, events, lifecycle, openGate: () => gate.resolve() };
}

test("an aborted call sends a cancel; the handler's signal fires", async () => {
  await using mesh = await tempMesh();
  const { definition, events } = watchedService();
  await mesh.serve(definition);
  const client = mesh.client().service(definition);
  const controller = new AbortController();
  const started = once(events, "started");
  const aborted = once(events, "aborted");
  const call = client.call("GET /wait", undefined, { signal: controller.signal });
  await started;
  controller.abort();
  await assert.rejects(call, { code: "CANCELLED" });
  await aborted;
});

test("a handler that never answers ends with TIMEOUT at the caller's deadline", async () => {
  await using mesh = await tempMesh();
  const { definition, events } = watchedService();
  await mesh.serve(definition);
  const aborted = once(events, "aborted");
  const client = mesh.client({ timeoutMs: 200 }).service(definition);
  await assert.rejects(client.call("GET /wait"), { code: "TIMEOUT" });
  await aborted;
});

test("a client that disconnects mid-request fires the handler's signal", async () => {
  await using mesh = await tempMesh();
  const { definition, events } = watchedService();
  const server = await mesh.serve(definition);
  const framed = Buffer.concat([
    PREFACE,
    encodeFrame(FrameType.HELLO, 0, JSON.stringify({ version: 1, token: TOKEN })),
    encodeFrame(FrameType.REQUEST, 1, JSON.stringify(["GET", "/wait"])),
  ]);
  for (const request of [
    framed,
    `{"path":"/wait","auth_token":"${TOKEN}"}\n`,
    `GET /wait HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
  ]) {
    const peer = await RawPeer.open(server.path);
    const started = once(events, "started");
    const aborted = once(events, "aborted");
    peer.write(request);
    await started;
    peer.close();
    await aborted;
  }
});

test("the context carries params, validated data, caller and deadline", async () => {
  await using mesh = await tempMesh();
  const { definition } = watchedService();
  await mesh.serve(definition);
  const client = mesh.client().service(definition);
  assert.deepEqual(await client.call("GET /ctx/:id", { params: { id: "a b" }, data: { n: "7" } }), {
    params: { id: "a b" },
    n: 7,
    dialect: "rpc",
    authenticated: true,
    hasDeadline: true,
  });
});

test("the same definition mounted in-process answers behind the same client API", async () => {
  await using mesh = await tempMesh();
  const { definition, lifecycle } = watchedService();
  const client = mesh.client();
  await client.mount(definition);
  await client.mount(users);
  const watched = client.service(definition);
  const result = await watched.call("GET /ctx/:id", { params: { id: "1" }, data: { n: 2 } });
  assert.equal(result.dialect, "in-process");
  await assert.rejects(watched.call("GET /ctx/:id", { params: { id: "1" }, data: { n: "x" } }), {
    code: "BAD_REQUEST",
  });
  await assert.rejects(client.service(users).call("GET /boom"), {
    code: "INTERNAL",
    message: "internal error",
  });
  const controller = new AbortController();
  const call = watched.call("GET /wait", undefined, { signal: controller.signal });
  controller.abort();
  await assert.rejects(call, { code: "CANCELLED" });
  await client.close();
  assert.deepEqual(lifecycle, ["start", "stop"]);
});

test("an absent service fails fast with UNAVAILABLE", async () => {
  await using mesh = await tempMesh();
  const client = mesh.client().service(users);
  await assert.rejects(client.call("GET /health"), {
    code: "UNAVAILABLE",
    message: /users is not running/,
  });
});

test("a socket nobody answers on fails fast with UNAVAILABLE", async () => {
  await using mesh = await tempMesh();
  await writeFile(join(mesh.dir, "users.sock"), "");
  await writeFile(join(mesh.dir, "users@1.sock"), "");
  const client = mesh.client().service(users);
  await assert.rejects(client.call("GET /health"), {
    code: "UNAVAILABLE",
    message:
      /users is not answering: cannot connect to .*users\.sock.*; cannot connect to .*users@1\.sock/,
  });
});

test("calls are balanced across instances by requests in flight", async () => {
  await using mesh = await tempMesh();
  const { definition, events, openGate } = watchedService();
  const first = await mesh.serve(definition);
  const second = await mesh.serve(definition, { instance: 1 });
  const client = mesh.client().service(definition);
  const holding = eventsSeen(events, "holding", 20);
  const calls = Array.from({ length: 20 }, () => client.call("GET /held"));
  await holding;
  const onFirst = first.stats.inFlight;
  const onSecond = second.stats.inFlight;
  openGate();
  assert.deepEqual(await Promise.all(calls), Array(20).fill("held"));
  assert.equal(onFirst + onSecond, 20);
  assert.ok(onFirst >= 5 && onSecond >= 5, `both instances serve: ${onFirst} and ${onSecond}`);
  await second.close();
  assert.equal(await client.call("GET /held"), "held");
});

test("draining answers everything in flight; a replacement takes new calls with zero failures", async () => {
  await using mesh = await tempMesh();
  const { definition, events, lifecycle, openGate } = watchedService();
  const outcomes: RequestOutcome[] = [];
  const old = await mesh.serve(definition, { onRequest: (outcome) => outcomes.push(outcome) });
  const client = mesh.client().service(definition);
  // Eleven requests held in the old instance's handlers: ten framed, one JSON line.
  const holding = eventsSeen(events, "holding", 11);
  const before = Array.from({ length: 10 }, () => client.call("GET /held"));
  const lines = await RawPeer.open(old.path);
  lines.write(`{"path":"/held","auth_token":"${TOKEN}"}\n`);
  await holding;
  assert.equal(old.stats.inFlight, 11);
  const successor = await mesh.serve(definition, { replace: true });
  const closing = old.close();
  const during = Array.from({ length: 10 }, () => client.call("GET /held"));
  openGate();
  assert.deepEqual(await Promise.all([...before, ...during]), Array(20).fill("held"));
  await lines.untilClosed();
  assert.equal(JSON.parse(lines.text).data, "held");
  await closing;
  const after = Array.from({ length: 5 }, () => client.call("GET /held"));
  assert.deepEqual(await Promise.all(after), Array(5).fill("held"));
  assert.equal(old.stats.requests + successor.stats.requests, 26);
  assert.ok(successor.stats.requests >= 5);
  assert.equal(outcomes.length, old.stats.requests);
  assert.ok(outcomes.every((outcome) => outcome.error === undefined && outcome.durationMs >= 0));
  assert.deepEqual(lifecycle, ["start", "start", "stop"]);
});

test("a handler calls another service through its context's client", async () => {
  await using mesh = await tempMesh();
  const front = defineService({ name: "front" }).route(
    "GET /profile/:id",
    async ({ params, client }) => {
      const user = await client.service(users).call("GET /user/:id", { params: { id: params.id } });
      return { greeting: `hello ${user.name}` };
    },
  );
  await mesh.serve(users);
  await mesh.serve(front);
  const client = mesh.client().service(front);
  assert.deepEqual(await client.call("GET /profile/:id", { params: { id: "1" } }), {
    greeting: "hello Ada",
  });
  await assert.rejects(client.call("GET /profile/:id", { params: { id: "9" } }), {
    code: "NOT_FOUND",
    message: "no user 9",
  });
});
