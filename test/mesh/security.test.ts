import assert from "node:assert/strict";
import { stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { encodeFrame, FrameType } from "../../src/wire/index.ts";
import { TOKEN, tempMesh, users } from "./fixtures.ts";
import { RawPeer } from "./raw-socket.ts";

test("sockets are 0660 in a 0770 directory; the token file is made when absent", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, { token: undefined });
  assert.equal((await stat(server.path)).mode & 0o777, 0o660);
  assert.equal((await stat(mesh.dir)).mode & 0o777, 0o770);
  assert.equal((await stat(join(mesh.dir, "token"))).mode & 0o777, 0o600);
  const client = mesh.client({ token: undefined }).service(users);
  assert.equal((await client.call("GET /user/:id", { params: { id: "1" } })).id, 1);
});

test("a stale socket is replaced; a live one is never stolen", async () => {
  await using mesh = await tempMesh();
  const path = join(mesh.dir, "users.sock");
  const stale = createServer();
  stale.listen(join(mesh.dir, "stale.sock"));
  await new Promise((resolve) => stale.once("listening", resolve));
  // A socket file nobody listens on: bind elsewhere, then close without unlinking it.
  await writeFile(path, "");
  stale.close();
  await mesh.serve(users);
  await assert.rejects(mesh.serve(users), {
    code: "ERR_NEXUS_SOCKET_IN_USE",
    message: /another process is listening on .*users\.sock/,
  });
  const client = mesh.client().service(users);
  assert.equal((await client.call("GET /health")).ok, true);
});

test("the replace option swaps a live socket atomically; the old server's close leaves it", async () => {
  await using mesh = await tempMesh();
  const old = await mesh.serve(users);
  const successor = await mesh.serve(users, { replace: true });
  await old.close();
  const client = mesh.client().service(users);
  assert.equal((await client.call("GET /health")).ok, true);
  assert.equal(successor.stats.requests, 1);
  assert.equal(old.stats.requests, 0);
  await successor.close();
  await assert.rejects(stat(join(mesh.dir, "users.sock")), { code: "ENOENT" });
});

test("a wrong token is UNAUTHORIZED in every dialect", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  const wrong = mesh.client({ token: "wrong" }).service(users);
  await assert.rejects(wrong.call("GET /health"), { code: "UNAUTHORIZED" });

  const anonymous = await RawPeer.open(server.path);
  anonymous.hello(undefined);
  anonymous.write(encodeFrame(FrameType.REQUEST, 1, '["GET","/user/1",null,0]'));
  anonymous.write(encodeFrame(FrameType.REQUEST, 2, '["GET","/health",null,0]'));
  await anonymous.until(() => anonymous.frames().length === 3);
  const [welcome, ...answers] = anonymous.frames();
  assert.equal(JSON.parse(welcome!.payload.toString()).authenticated, false);
  const byId = new Map(answers.map((frame) => [frame.id, frame]));
  assert.equal(byId.get(1)!.type, FrameType.ERROR);
  assert.equal(JSON.parse(byId.get(1)!.payload.toString()).code, "UNAUTHORIZED");
  assert.equal(byId.get(2)!.type, FrameType.RESPONSE);
  anonymous.close();
});

test("a connection with repeated auth failures is closed", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, { limits: { maxAuthFailures: 2 } });
  const lines = await RawPeer.open(server.path);
  const request = `${JSON.stringify({ path: "/user/1", auth_token: "guess" })}\n`;
  lines.write(request.repeat(5));
  await lines.untilClosed();
  for (const line of lines.text.trim().split("\n")) {
    assert.equal(JSON.parse(line).error.code, "UNAUTHORIZED");
  }

  const frames = await RawPeer.open(server.path);
  frames.hello(undefined);
  for (let id = 1; id <= 5; id++)
    frames.write(encodeFrame(FrameType.REQUEST, id, '["GET","/user/1"]'));
  await frames.untilClosed();

  const http = await RawPeer.open(server.path);
  http.write("GET /user/1 HTTP/1.1\r\nHost: x\r\n\r\n".repeat(3));
  await http.untilClosed();
  assert.equal(http.text.match(/HTTP\/1.1 401/g)?.length, 2);

  const client = mesh.client().service(users);
  assert.equal((await client.call("GET /user/:id", { params: { id: "1" } })).id, 1);
});

test("a wrong token in the framed-RPC handshake closes the connection", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  const peer = await RawPeer.open(server.path);
  peer.hello(`${TOKEN}x`);
  await peer.untilClosed();
  const [error] = peer.frames();
  assert.equal(error!.type, FrameType.ERROR);
  assert.equal(error!.id, 0);
  assert.equal(JSON.parse(error!.payload.toString()).code, "UNAUTHORIZED");
});
