import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { Client } from "undici";
import {
  type Backend,
  type RunningProxy,
  rawExchange,
  startBackend,
  startProxy,
} from "./harness.ts";

const run = promisify(execFile);

let tcp: Backend;
let unix: Backend;
let proxy: RunningProxy;
let dir: string;

const echo = (name: string) =>
  ((req, res) => {
    res.setHeader("x-backend", name);
    res.setHeader("connection", "keep-alive, x-secret");
    res.setHeader("x-secret", "hop-by-hop");
    res.end(JSON.stringify({ url: req.url, method: req.method, headers: req.headers }));
  }) satisfies Parameters<typeof startBackend>[0];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "nexus-http-"));
  tcp = await startBackend(echo("tcp"));
  unix = await startBackend(echo("unix"), join(dir, "backend.sock"));
  proxy = await startProxy(
    { "tcp.test": tcp.endpoint, "unix.test": unix.endpoint },
    { telemetryHeaders: true },
  );
});

after(async () => {
  await proxy.close();
  await tcp.close();
  await unix.close();
  await rm(dir, { recursive: true, force: true });
});

test("routes by Host, case-insensitive and without the port, to TCP and Unix backends", async () => {
  const client = new Client(proxy.url);
  try {
    for (const [host, backend] of [
      ["tcp.test", "tcp"],
      ["TCP.Test:8080", "tcp"],
      ["unix.test", "unix"],
      ["unix.test.", "unix"],
    ]) {
      const response = await client.request({ path: "/a/b?c=d", method: "GET", headers: { host } });
      assert.equal(response.statusCode, 200, host);
      assert.equal(response.headers["x-backend"], backend, host);
      const seen = (await response.body.json()) as { url: string };
      assert.equal(seen.url, "/a/b?c=d");
    }
  } finally {
    await client.close();
  }
});

test("curl gets the backend's answer with forwarding headers added and hop-by-hop ones removed", async () => {
  const { stdout } = await run("curl", [
    "-s",
    "-i",
    "-H",
    "Host: tcp.test",
    "-H",
    "Connection: keep-alive, x-drop-me",
    "-H",
    "X-Drop-Me: 1",
    "-H",
    "Proxy-Authorization: Basic Zm9vOmJhcg==",
    "-H",
    "X-Forwarded-For: 203.0.113.9",
    "-H",
    "X-Forwarded-Proto: https",
    "-H",
    "Via: 1.0 edge",
    `${proxy.url}/path`,
  ]);
  const [head = "", body = ""] = stdout.split("\r\n\r\n");
  const seen = JSON.parse(body) as { headers: Record<string, string> };
  assert.equal(seen.headers.host, "tcp.test");
  assert.equal(seen.headers["x-drop-me"], undefined);
  assert.equal(seen.headers["proxy-authorization"], undefined);
  assert.equal(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
  assert.equal(seen.headers["x-forwarded-proto"], "http");
  assert.equal(seen.headers["x-forwarded-host"], "tcp.test");
  assert.equal(seen.headers.via, "1.0 edge, 1.1 nexus");
  assert.match(head, /^via: 1\.1 nexus$/im);
  assert.doesNotMatch(head, /x-secret/i);
  assert.match(head, /^x-nexus-cache: (hit|miss)$/im);
  assert.match(head, /^x-nexus-proxy-latency-ms: \d+\.\d{3}$/im);
});

test("keeps connections to the backend alive across requests", async () => {
  const before = tcp.connections();
  const client = new Client(proxy.url);
  try {
    for (let i = 0; i < 20; i++) {
      const response = await client.request({
        path: "/",
        method: "GET",
        headers: { host: "tcp.test" },
      });
      await response.body.text();
    }
  } finally {
    await client.close();
  }
  assert.ok(tcp.connections() - before <= 1, `opened ${tcp.connections() - before} connections`);
});

test("a missing, malformed or repeated Host is 400", async () => {
  const missing = await rawExchange(proxy.port, "GET / HTTP/1.0\r\n\r\n");
  assert.equal(missing.status, 400);
  assert.match(missing.body, /Host/);
  for (const host of ["bad host", "a/b", "[::1", "x:port", "tcp.test:99999999"]) {
    const response = await rawExchange(
      proxy.port,
      `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(response.status, 400, host);
  }
  const twice = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: tcp.test\r\nHost: unix.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(twice.status, 400);
});

test("a Host nobody serves is 404", async () => {
  const response = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: nope.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(response.status, 404);
  assert.equal(response.body, "no route for this host\n");
});

test("a malformed request line is 400 and the proxy keeps serving", async () => {
  const response = await rawExchange(proxy.port, "GARBAGE\r\n\r\n");
  assert.equal(response.status, 400);
  const ok = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: tcp.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(ok.status, 200);
});

test("metrics count requests per route and backend", async () => {
  const text = await proxy.proxy.metrics.requests.get();
  const tcpRoute = text.values.find(
    (v) =>
      v.labels.route === "tcp.test" && v.labels.backend === tcp.endpoint && v.labels.status === 200,
  );
  assert.ok(tcpRoute && tcpRoute.value >= 1);
  const notFound = text.values.find((v) => v.labels.route === "" && v.labels.status === 404);
  assert.ok(notFound && notFound.value >= 1);
});
