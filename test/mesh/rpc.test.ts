import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import pino from "pino";
import { ServiceError } from "../../src/service/index.ts";
import { codecs, encodeFrame, FrameType } from "../../src/wire/index.ts";
import { TOKEN, tempMesh, users } from "./fixtures.ts";
import { RawPeer } from "./raw-socket.ts";

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

test("errors keep their codes; internal errors are logged in full and hidden from callers", async () => {
  await using mesh = await tempMesh();
  const logged: string[] = [];
  const log = pino({ level: "error" }, { write: (line: string) => logged.push(line) });
  await mesh.serve(users, { log });
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
  assert.equal(logged.length, 1);
  const entry = JSON.parse(logged[0]!);
  assert.equal(entry.path, "/boom");
  assert.match(entry.err.message, /hunter2/);
  assert.match(entry.err.stack, /fixtures\.ts/);
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

test("MessagePack is used when both sides offer it, JSON otherwise", async () => {
  await using mesh = await tempMesh();
  const both = await mesh.serve(users);
  const jsonOnly = await mesh.serve(users, { instance: 1, codecs: ["json"] });
  for (const [server, offered, chosen] of [
    [both, ["msgpack", "json"], "msgpack"],
    [both, ["json"], "json"],
    [both, [], "json"],
    [jsonOnly, ["msgpack", "json"], "json"],
  ] as const) {
    const peer = await RawPeer.open(server.path);
    peer.hello(TOKEN, [...offered]);
    peer.write(
      encodeFrame(FrameType.REQUEST, 1, codecs[chosen].encode(["POST", "/echo", { a: [1] }])),
    );
    await peer.until(() => peer.frames().length === 2);
    const [welcome, response] = peer.frames();
    assert.equal(JSON.parse(welcome!.payload.toString()).codec, chosen);
    assert.deepEqual(codecs[chosen].decode(response!.payload), { a: [1] });
    peer.close();
  }
});
