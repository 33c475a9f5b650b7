// Draining over HTTP/1.1: pooled keep-alive connections must not hold a
// stopping service open until its drain deadline.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { Client } from "undici";
import { defineService } from "../../src/service/index.ts";
import { TOKEN, tempMesh } from "./fixtures.ts";

// Far beyond the test's own timeout: reaching it means drain did not finish by itself.
const DEADLINE = { timeoutMs: 600_000 };
const auth = { authorization: `Bearer ${TOKEN}` };

function httpClient(socketPath: string): Client {
  return new Client("http://svc", { socketPath, keepAliveTimeout: 600_000 });
}

test("drain closes an idle keep-alive HTTP connection without waiting for its deadline", {
  timeout: 20_000,
}, async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(defineService({ name: "idle" }).route("GET /hi", () => "hi"));
  const client = httpClient(server.path);
  try {
    const response = await client.request({ path: "/hi", method: "GET", headers: auth });
    assert.equal(await response.body.text(), '"hi"');
    assert.equal(response.headers.connection, "keep-alive");
    const disconnected = once(client, "disconnect");
    await server.drain(DEADLINE);
    await disconnected;
  } finally {
    await client.destroy();
  }
});

test("a request in flight during drain completes with Connection: close", {
  timeout: 20_000,
}, async () => {
  await using mesh = await tempMesh();
  let entered!: () => void;
  const handlerEntered = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const definition = defineService({ name: "busy" }).route("GET /held", async () => {
    entered();
    await released;
    return "held";
  });
  const server = await mesh.serve(definition);
  const client = httpClient(server.path);
  try {
    const responding = client.request({ path: "/held", method: "GET", headers: auth });
    await handlerEntered;
    const disconnected = once(client, "disconnect");
    const draining = server.drain(DEADLINE);
    release();
    const response = await responding;
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers.connection, "close");
    assert.equal(await response.body.text(), '"held"');
    await draining;
    await disconnected;
  } finally {
    await client.destroy();
  }
});
