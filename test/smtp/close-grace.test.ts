// A client that never closes its side after the proxy's last reply (a 221, a
// 421, or the refusal beyond maxConnections) must not hold its socket, and
// its place under maxConnections, for ever: the proxy closes it after a grace
// of at most the idle timeout.
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { SmtpProxy } from "../../src/proxy/smtp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { promptly } from "./promptly.ts";

const IDLE_TIMEOUT_MS = 300;

/** A client that reads everything but never ends its side of the connection. */
async function halfOpenClient(port: number): Promise<{ socket: Socket; received: () => string }> {
  const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  socket.on("error", () => {});
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  await once(socket, "connect");
  return { socket, received: () => text };
}

async function noSessionLeft(server: SmtpProxy): Promise<void> {
  while (server.sessions > 0) await delay(20);
}

function proxy(): SmtpProxy {
  return new SmtpProxy({
    router: loopbackRouter({}),
    hostname: "proxy.test",
    maxConnections: 1,
    idleTimeoutMs: IDLE_TIMEOUT_MS,
  });
}

test("a session closed after QUIT is destroyed when the client never closes", async () => {
  const server = proxy();
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await halfOpenClient(port);
    client.socket.write("QUIT\r\n");
    await once(client.socket, "end");
    assert.match(
      client.received(),
      /^220 [^\r]*\r\n221 2\.0\.0 proxy\.test closing connection\r\n$/,
    );
    await promptly(noSessionLeft(server));
    client.socket.destroy();
    // Its place under maxConnections is free again.
    const next = await halfOpenClient(port);
    while (!next.received().includes("\r\n")) await once(next.socket, "data");
    assert.match(next.received(), /^220 proxy\.test ESMTP Nexus\r\n/);
    next.socket.destroy();
  } finally {
    await server.close(0);
  }
});

test("a refused client that never closes is destroyed", async () => {
  const server = proxy();
  const { port } = await server.listen(0, "127.0.0.1");
  const first = await halfOpenClient(port);
  const refused = await halfOpenClient(port);
  try {
    while (!first.received().includes("\r\n")) await once(first.socket, "data");
    await once(refused.socket, "end");
    assert.equal(
      refused.received(),
      "421 4.3.2 proxy.test Too many connections, try again later\r\n",
    );
    first.socket.destroy();
    // close() resolves once every connection, refused ones included, has ended.
    await promptly(server.close(60_000));
  } finally {
    refused.socket.destroy();
    await server.close(0);
  }
});

test("a session closed for being idle is destroyed when the client never closes", async () => {
  const server = proxy();
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await halfOpenClient(port);
    await once(client.socket, "end"); // the 220, then the idle 421 and the proxy's end
    assert.match(client.received(), /421 4\.4\.2 proxy\.test Idle timeout/);
    await promptly(noSessionLeft(server));
    client.socket.destroy();
  } finally {
    await server.close(0);
  }
});
