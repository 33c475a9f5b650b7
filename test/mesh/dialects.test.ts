// The same routes over HTTP (curl) and JSON lines (socat), as other languages reach them.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { TOKEN, tempMesh, users } from "./fixtures.ts";
import { RawPeer } from "./raw-socket.ts";

const run = promisify(execFile);

async function curl(
  socket: string,
  args: string[],
): Promise<{ status: number; body: string; headers: string }> {
  const { stdout } = await run("curl", ["-s", "-i", "--unix-socket", socket, ...args]);
  const [head = "", body = ""] = stdout.split("\r\n\r\n");
  return { status: Number(head.split(" ")[1]), body, headers: head.toLowerCase() };
}

async function socat(socket: string, input: string): Promise<string> {
  const child = execFile("socat", ["-t", "5", "-", `UNIX-CONNECT:${socket}`]);
  let output = "";
  child.stdout!.on("data", (chunk) => {
    output += chunk;
  });
  child.stdin!.end(input);
  await new Promise((resolve) => child.on("close", resolve));
  return output;
}

test("HTTP/1.1 with curl: statuses, bearer token, JSON bodies", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  const sock = server.path;
  const auth = ["-H", `Authorization: Bearer ${TOKEN}`];
  const ok = await curl(sock, [...auth, "http://svc/user/1"]);
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.body), { id: 1, name: "Ada", email: "ada@example.com" });

  const anonymous = await curl(sock, ["http://svc/user/1"]);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers, /www-authenticate: bearer/);
  assert.equal(JSON.parse(anonymous.body).error.code, "UNAUTHORIZED");

  assert.equal((await curl(sock, ["http://svc/health"])).status, 200);
  assert.equal((await curl(sock, [...auth, "http://svc/nowhere"])).status, 404);

  const wrongMethod = await curl(sock, [...auth, "-X", "PUT", "http://svc/user/1"]);
  assert.equal(wrongMethod.status, 405);
  assert.match(wrongMethod.headers, /allow: .*delete/i);

  const created = await curl(sock, [
    ...auth,
    "-d",
    '{"name":"Bo","email":"bo@example.com"}',
    "http://svc/user",
  ]);
  assert.equal(created.status, 200);
  assert.equal(JSON.parse(created.body).name, "Bo");

  const invalid = await curl(sock, [
    ...auth,
    "-d",
    '{"name":"Bo","email":"nope"}',
    "http://svc/user",
  ]);
  assert.equal(invalid.status, 400);
  assert.deepEqual(
    JSON.parse(invalid.body).error.details.issues.map((issue: { field: string }) => issue.field),
    ["data.email"],
  );

  const notJson = await curl(sock, [...auth, "-d", "{oops", "http://svc/user"]);
  assert.equal(notJson.status, 400);

  const boom = await curl(sock, [...auth, "http://svc/boom"]);
  assert.equal(boom.status, 500);
  assert.doesNotMatch(boom.body, /hunter2|at /);

  const deleted = await curl(sock, [...auth, "-X", "DELETE", "http://svc/user/2"]);
  assert.equal(deleted.status, 204);
});

test("JSON lines with socat: one reply line per request, in order", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  const lines = [
    { path: "/user/1", method: "GET", auth_token: TOKEN, id: "a" },
    { path: "/user/1", method: "GET", id: "b" },
    { path: "/user", method: "POST", auth_token: TOKEN, data: { name: "Cy", email: "x" } },
    { path: "/slow/50", auth_token: TOKEN },
    { path: "/health" },
  ];
  const output = await socat(
    server.path,
    `${lines.map((line) => JSON.stringify(line)).join("\n")}\nnot json\n`,
  );
  const replies = output
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.equal(replies.length, 6);
  assert.deepEqual(replies[0], {
    id: "a",
    data: { id: 1, name: "Ada", email: "ada@example.com" },
  });
  assert.equal(replies[1].id, "b");
  assert.equal(replies[1].error.code, "UNAUTHORIZED");
  assert.equal(replies[2].error.code, "BAD_REQUEST");
  assert.match(replies[2].error.message, /data\.email/);
  assert.deepEqual(replies[3], { data: { waited: 50 } });
  assert.deepEqual(replies[4], { data: { ok: true } });
  assert.equal(replies[5].error.code, "BAD_REQUEST");
});

test("a JSON object sent without a newline is answered while the client waits", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  const peer = await RawPeer.open(server.path);
  peer.write(`{"path":"/user/1","method":"GET","auth_token":"${TOKEN}","data":{"id":123}}`);
  await peer.until(() => peer.text.endsWith("\n"));
  assert.equal(JSON.parse(peer.text).data.name, "Ada");
  peer.close();
});

test("unrecognized first bytes get a clear error and a close", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users);
  for (const garbage of ["garbage\n", "\x01\x02\x03\x04", "FOO / HTTP/1.1\r\n"]) {
    const peer = await RawPeer.open(server.path);
    peer.write(garbage);
    await peer.untilClosed();
    assert.match(JSON.parse(peer.text).error.message, /unrecognized protocol/);
  }
  const output = await socat(server.path, "hello there\n");
  assert.match(output, /unrecognized protocol/);
});
