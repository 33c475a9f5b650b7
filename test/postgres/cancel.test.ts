// Cancelling a running query through the proxy: psql's Ctrl-C and pg's
// cancel both reach the backend that owns the session, also when the request
// lands on a sibling proxy process; a key the proxy did not issue cancels
// nothing.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type pg from "pg";
import {
  cancelPacket,
  cancelWithPg,
  directClient,
  errorCode,
  MAIN_SERVER,
  proxyClient,
  proxyForTests,
  rawExchange,
  rawSocket,
  startProxy,
  startupMessage,
  waitUntilRunning,
} from "./harness.ts";

const proxy = proxyForTests({ postgres: MAIN_SERVER });
let observer: pg.Client;

before(async () => {
  observer = await directClient();
});

after(async () => {
  await observer?.end();
});

test("Ctrl-C in psql cancels pg_sleep through the proxy with 57014", async () => {
  const marker = "psql_cancel_marker";
  const child = spawn(
    "psql",
    [
      "-X",
      "-v",
      "VERBOSITY=verbose",
      "-h",
      "127.0.0.1",
      "-p",
      String(proxy.port),
      "-U",
      "postgres",
      "-c",
      `SELECT pg_sleep(60) AS ${marker}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const exited = once(child, "exit");
  try {
    await waitUntilRunning(observer, marker);
    child.kill("SIGINT");
    await exited;
  } finally {
    child.kill("SIGKILL");
  }
  assert.match(stderr, /57014/);
  assert.match(stderr, /canceling statement due to user request/);
});

test("pg's cancel reaches the owning backend and the session stays usable", async () => {
  const victim = proxyClient(proxy.port, "postgres");
  await victim.connect();
  try {
    const marker = "pg_cancel_marker";
    const running = victim.query(`SELECT pg_sleep(60) AS ${marker}`);
    await waitUntilRunning(observer, marker);
    cancelWithPg(victim, proxy.port);
    await assert.rejects(running, { code: "57014" });
    const { rows } = await victim.query("SELECT 1 AS one");
    assert.equal(rows[0].one, 1);
  } finally {
    await victim.end();
  }
});

test("the client sees its own key, and a wrong key cancels nothing", async () => {
  const victim = proxyClient(proxy.port, "postgres");
  await victim.connect();
  try {
    const { processID, secretKey } = victim as unknown as { processID: number; secretKey: number };
    const { rows } = await victim.query("SELECT pg_backend_pid() AS pid");
    assert.equal(processID, rows[0].pid, "the process id is the backend's");
    const marker = "wrong_key_marker";
    const running = victim.query(`SELECT pg_sleep(1) AS ${marker}`);
    await waitUntilRunning(observer, marker);
    for (const guess of [secretKey ^ 1, secretKey + 1, 0]) {
      const socket = rawSocket(proxy.port);
      socket.end(cancelPacket(processID, guess));
      socket.resume();
      await once(socket, "close");
    }
    await running;
  } finally {
    await victim.end();
  }
});

test("a cancel that reaches a sibling proxy process is passed to the one that owns the key", async () => {
  const dir = mkdtempSync(join(tmpdir(), "nexus-pg-peers-"));
  const sockets = [join(dir, "a.sock"), join(dir, "b.sock")];
  const peering = (self: number) => ({
    listen: sockets[self]!,
    peers: sockets.filter((_, i) => i !== self),
  });
  const first = await startProxy({ postgres: MAIN_SERVER }, { cancelPeering: peering(0) });
  const second = await startProxy({ postgres: MAIN_SERVER }, { cancelPeering: peering(1) });
  const victim = proxyClient(first.port, "postgres");
  await victim.connect();
  try {
    const marker = "sibling_cancel_marker";
    const running = victim.query(`SELECT pg_sleep(60) AS ${marker}`);
    await waitUntilRunning(observer, marker);
    // The key was issued by the first process; the request lands on the second.
    cancelWithPg(victim, second.port);
    await assert.rejects(running, { code: "57014" });
    // A key neither issued is asked about once at the sibling, never bounced back.
    await rawExchange(first.port, cancelPacket(1, 2), { end: true });
  } finally {
    await victim.end();
    await Promise.all([first.close(), second.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a startup that fails after BackendKeyData releases the key it was issued", async () => {
  // A backend that says AuthenticationOk, gives its key, then sends a
  // message too short to be one.
  const backend = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => {
      const authenticationOk = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]);
      const backendKeyData = Buffer.from([0x4b, 0, 0, 0, 12, 0, 0, 0, 42, 1, 2, 3, 4]);
      const malformed = Buffer.from([0x53, 0, 0, 0, 2]);
      socket.end(Buffer.concat([authenticationOk, backendKeyData, malformed]));
    });
  });
  backend.listen(0, "127.0.0.1");
  await once(backend, "listening");
  const { port } = backend.address() as AddressInfo;
  const broken = await startProxy({ broken: `127.0.0.1:${port}` });
  try {
    const answer = await rawExchange(
      broken.port,
      startupMessage({ user: "postgres", database: "broken" }),
    );
    assert.equal(errorCode(answer), "08P01");
    assert.equal(broken.proxy.issuedCancelKeys, 0);
  } finally {
    await broken.close();
    backend.close();
  }
});
