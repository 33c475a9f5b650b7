import assert from "node:assert/strict";
import { test } from "node:test";
import { TOKEN, tempMesh, users } from "./fixtures.ts";
import { RawPeer } from "./raw-socket.ts";

/** Resolves whether `peer` was closed by the server within `ms` (generous: the server's own clock decides). */
async function closedWithin(peer: RawPeer, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([peer.untilClosed().then(() => true as const), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

test("an HTTP request whose body never arrives is closed after the idle timeout", async () => {
  await using mesh = await tempMesh();
  const server = await mesh.serve(users, {
    limits: { handshakeTimeoutMs: 100, idleTimeoutMs: 200 },
  });
  const stalled = await RawPeer.open(server.path);
  stalled.write(
    `POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100\r\n\r\n{"a":`,
  );
  assert.equal(await closedWithin(stalled, 10_000), true, "the stalled request is still open");
  // A body that arrives in time, in pieces, is still served.
  const slow = await RawPeer.open(server.path);
  const body = JSON.stringify({ said: "hello" });
  slow.write(
    `POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  slow.write(body.slice(0, 5));
  slow.write(body.slice(5));
  await slow.until(() => slow.text.includes(body));
  assert.match(slow.text, /^HTTP\/1.1 200/);
  slow.close();
});
