import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { ServiceError } from "../../src/service/index.ts";
import { encodeFrame, FrameType } from "../../src/wire/index.ts";
import { tempMesh, users } from "./fixtures.ts";

test("a typed call over framed RPC returns the handler's data", async () => {
  await using mesh = await tempMesh();
  await mesh.serve(users);
  const client = mesh.client().service<typeof users>("users");
  const user = await client.call("GET /user/:id", { params: { id: "1" } });
  assert.deepEqual(user, { id: 1, name: "Ada", email: "ada@example.com" });
  const created = await client.call("POST /user", {
    data: { name: "Bob", email: "bob@example.com" },
  });
  assert.equal(created.name, "Bob");
  assert.equal(await client.call("DELETE /user/:id", { params: { id: "2" } }), undefined);
});

test("errors keep their codes; internal errors hide their details", async () => {
  await using mesh = await tempMesh();
  await mesh.serve(users);
  const client = mesh.client().service(users);
  await assert.rejects(client.call("GET /user/:id", { params: { id: "9" } }), {
    code: "NOT_FOUND",
    message: "no user 9",
  });
  await assert.rejects(
    client.call("POST /user", { data: { name: "", email: "nope" } }),
    (error) => {
      assert.ok(error instanceof ServiceError);
      assert.equal(error.code, "BAD_REQUEST");
      assert.match(error.message, /data\.name/);
      assert.match(error.message, /data\.email/);
      return true;
    },
  );
  await assert.rejects(client.call("GET /boom"), { code: "INTERNAL", message: "internal error" });
  await assert.rejects(client.request("GET", "/nowhere"), { code: "NOT_FOUND" });
  await assert.rejects(client.request("PUT", "/user/1"), { code: "METHOD_NOT_ALLOWED" });
});

test("many requests in flight on one connection are answered", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  const client = mesh.client({ codec: "msgpack" }).service(users);
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => client.call("POST /echo", { data: { i } })),
  );
  assert.deepEqual(
    results,
    Array.from({ length: 200 }, (_, i) => ({ i })),
  );
  assert.equal(server.stats.requests, 200);
});

test("a service that stops answering fails the call with TIMEOUT at the client", async () => {
  await using mesh = await tempMesh();
  // A server that completes the handshake and then ignores every request.
  const mute = createServer((socket) => {
    socket.once("data", () => {
      const welcome = { version: 1, codec: "json", service: "users", authenticated: true };
      socket.write(encodeFrame(FrameType.WELCOME, 0, JSON.stringify(welcome)));
    });
  });
  mute.listen(join(mesh.dir, "users.sock"));
  await once(mute, "listening");
  try {
    const client = mesh.client({ timeoutMs: 100 }).service(users);
    await assert.rejects(client.call("GET /health"), { code: "TIMEOUT" });
  } finally {
    mute.close();
  }
});

test("call types come from the definition; what the types refuse, the server refuses too", async () => {
  await using mesh = await tempMesh();
  await mesh.serve(users);
  const client = mesh.client().service<typeof users>("users");
  const user = await client.call("GET /user/:id", { params: { id: "1" } });
  const email: string = user.email;
  assert.equal(email, "ada@example.com");
  // @ts-expect-error the route needs its :id parameter
  await assert.rejects(async () => client.call("GET /user/:id"), TypeError);
  // @ts-expect-error no such route in the definition
  await assert.rejects(client.call("GET /nope"), { code: "NOT_FOUND" });
  // @ts-expect-error name must be a string
  await assert.rejects(client.call("POST /user", { data: { name: 1, email: "a@b.co" } }), {
    code: "BAD_REQUEST",
  });
});
