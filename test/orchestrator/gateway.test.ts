import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { request } from "undici";
import {
  broken,
  eventually,
  type RunningOrchestrator,
  runOrchestrator,
  underConstantLoad,
  workerService,
} from "./harness.ts";

/** The bearer header for the orchestrator's token. */
async function tokenOf(run: RunningOrchestrator): Promise<string> {
  return `Bearer ${(await readFile(join(run.dir, "sockets", "token"), "utf8")).trim()}`;
}

/** A POST that sends its body only after the server's 100 Continue, as curl does for large bodies. */
async function postExpectingContinue(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number | undefined; body: string }> {
  const outgoing = httpRequest(url, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json", expect: "100-continue" },
  });
  outgoing.on("continue", () => outgoing.end(body));
  const [response] = (await once(outgoing, "response")) as [IncomingMessage];
  let text = "";
  for await (const chunk of response) text += chunk;
  return { status: response.statusCode, body: text };
}

test("the gateway routes, checks tokens, streams bodies and maps errors to statuses", async () => {
  await using run = await runOrchestrator({
    services: {
      api: workerService("api"),
      open: workerService("open"),
      fragile: workerService("fragile", { restart: { policy: "never" } }),
      bad: { entry: broken, restart: { policy: "never" } },
    },
    gateway: {
      port: 0,
      routes: [
        { prefix: "/api", service: "api" },
        { prefix: "/open", service: "open", public: true },
        { prefix: "/fragile", service: "fragile" },
        { prefix: "/bad", service: "bad" },
      ],
    },
  });
  const base = run.orchestrator.gatewayUrl!;
  const auth = { authorization: await tokenOf(run) };
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const response = await request(`${base}${path}`, { headers });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: await response.body.json(),
    };
  };

  // Token: required unless the service route or the gateway route is public.
  assert.equal((await get("/api/pid")).status, 401);
  assert.equal((await get("/api/pid", { authorization: "Bearer wrong" })).status, 401);
  assert.equal((await get("/api/pid", auth)).status, 200);
  assert.deepEqual((await get("/api/public")).body, { open: true });
  assert.equal((await get("/open/pid")).status, 200);

  // Statuses from the service pass through.
  const missing = await get("/api/nowhere", auth);
  assert.equal(missing.status, 404);
  assert.equal((missing.body as { error: { code: string } }).error.code, "NOT_FOUND");
  assert.equal((await get("/api/pid/extra", auth)).status, 404);

  // A request body streams through, chunk by chunk.
  const chunks = ['{"items":[', '"a",', '"b"', "]}"];
  const echoed = await request(`${base}/api/echo`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: Readable.from(chunks),
  });
  assert.equal(echoed.statusCode, 200);
  assert.deepEqual(await echoed.body.json(), { items: ["a", "b"] });

  // Expect: 100-continue (curl sends it for large bodies) belongs to the hop it came on.
  const continued = await postExpectingContinue(`${base}/api/echo`, auth, '{"big":true}');
  assert.deepEqual(continued, { status: 200, body: '{"big":true}' });

  // No gateway route: 404 from the gateway itself.
  assert.equal((await get("/unknown/x", auth)).status, 404);

  // A service that is down answers 503 with Retry-After, never 404.
  const errored = await get("/bad/anything", auth);
  assert.equal(errored.status, 503);
  assert.equal(errored.headers["retry-after"], "30");
  const { pid } = (await get("/fragile/pid", auth)).body as { pid: number };
  process.kill(pid, "SIGKILL");
  await eventually("fragile to stop", () =>
    run.orchestrator.status().find((s) => s.name === "fragile" && s.status === "stopped"),
  );
  const stopped = await get("/fragile/pid", auth);
  assert.equal(stopped.status, 503);
  assert.ok(stopped.headers["retry-after"]);
  assert.match(
    (stopped.body as { error: { message: string } }).error.message,
    /fragile is stopped/,
  );

  // The gateway's own endpoints.
  const health = await get("/healthz");
  assert.equal(health.status, 200);
  assert.deepEqual(health.body, {
    status: "ok",
    services: { api: "running", open: "running", fragile: "stopped", bad: "errored" },
  });
  const metrics = await eventually("request figures in /metrics", async () => {
    const text = await (await request(`${base}/metrics`)).body.text();
    return /nexus_requests_total\{service="api"\} [1-9]/.test(text) && text;
  });
  assert.match(metrics, /nexus_request_duration_seconds_bucket\{le="0\.001",service="api"\}/);
  assert.match(metrics, /nexus_service_up\{service="bad"\} 0/);
  assert.match(metrics, /nexus_service_restarts\{service="api"\} 0/);
});

test("a service slower than the gateway's timeout gives 504", async () => {
  await using run = await runOrchestrator({
    services: { api: workerService("api") },
    gateway: { port: 0, timeoutMs: 1500 },
  });
  const response = await request(`${run.orchestrator.gatewayUrl}/api/slow/60000`, {
    headers: { authorization: await tokenOf(run) },
  });
  assert.equal(response.statusCode, 504);
  assert.deepEqual(await response.body.json(), {
    error: { code: "TIMEOUT", message: "service api did not answer in time" },
  });
});

test("a reload behind the gateway fails no request", async () => {
  await using run = await runOrchestrator({
    services: { api: workerService("api") },
    gateway: { port: 0 },
  });
  const base = run.orchestrator.gatewayUrl!;
  const { failures } = await underConstantLoad(
    async () => {
      const response = await request(`${base}/api/public`);
      await response.body.dump();
      if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
    },
    async () => {
      await run.orchestrator.reload("api");
      await run.orchestrator.reload("api");
    },
  );
  assert.deepEqual(failures, []);
});

test("requests through the gateway wake a sleeping on-demand service and wait for it", async () => {
  await using run = await runOrchestrator({
    services: { lazy: workerService("lazy", { onDemand: { idleMs: 60_000 } }) },
    gateway: { port: 0 },
  });
  assert.equal(run.orchestrator.status()[0]!.status, "sleeping");
  const base = run.orchestrator.gatewayUrl!;
  const answers = await Promise.all(
    Array.from({ length: 3 }, async () => {
      const response = await request(`${base}/lazy/public`);
      return { status: response.statusCode, body: await response.body.json() };
    }),
  );
  assert.deepEqual(answers, Array(3).fill({ status: 200, body: { open: true } }));
  assert.equal(run.orchestrator.status()[0]!.status, "running");
});

test("stopping lets gateway requests in flight finish", async () => {
  const run = await runOrchestrator({
    services: { api: workerService("api") },
    gateway: { port: 0 },
  });
  try {
    const pending = request(`${run.orchestrator.gatewayUrl}/api/slow/4000`, {
      headers: { authorization: await tokenOf(run) },
    });
    await eventually("the request in flight", () =>
      run.orchestrator.status()[0]!.instances.some((i) => i.inFlight === 1),
    );
    const stopped = run.orchestrator.stop();
    const response = await pending;
    assert.equal(response.statusCode, 200);
    assert.equal(((await response.body.json()) as { waited: number }).waited, 4000);
    assert.deepEqual(await stopped, { notDrained: 0 });
  } finally {
    await run[Symbol.asyncDispose]();
  }
});
