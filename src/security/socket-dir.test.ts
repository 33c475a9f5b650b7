import assert from "node:assert/strict";
import { test } from "node:test";
import { parseSocketName, resolveSocketDir, socketPathFor } from "./socket-dir.ts";

test("socket names: <name>.sock for the first instance, <name>@<n>.sock for others", () => {
  assert.equal(socketPathFor("/run/x", "users"), "/run/x/users.sock");
  assert.equal(socketPathFor("/run/x", "users", 2), "/run/x/users@2.sock");
  assert.deepEqual(parseSocketName("users.sock"), { service: "users", instance: 0 });
  assert.deepEqual(parseSocketName("users@2.sock"), { service: "users", instance: 2 });
  assert.equal(parseSocketName("users@0.sock"), undefined);
  assert.equal(parseSocketName("token"), undefined);
  assert.equal(parseSocketName("users.sock.a1b2.tmp"), undefined);
});

test("the socket directory: explicit, then NEXUS_SOCKET_DIR, then /tmp/nexus", () => {
  const saved = process.env.NEXUS_SOCKET_DIR;
  try {
    delete process.env.NEXUS_SOCKET_DIR;
    assert.equal(resolveSocketDir(), "/tmp/nexus");
    process.env.NEXUS_SOCKET_DIR = "/run/elsewhere";
    assert.equal(resolveSocketDir(), "/run/elsewhere");
    assert.equal(resolveSocketDir("/explicit"), "/explicit");
  } finally {
    if (saved === undefined) delete process.env.NEXUS_SOCKET_DIR;
    else process.env.NEXUS_SOCKET_DIR = saved;
  }
});
