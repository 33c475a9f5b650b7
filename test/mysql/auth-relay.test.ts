// The end of the authentication relay: the backend's OK comes back unsent
// (the session sends it as its relay starts, so a client waiting for it has
// sent nothing when the kernel takes the connection); a refusal goes to the
// client at once. Both are renumbered into the client's sequence.
import assert from "node:assert/strict";
import { duplexPair } from "node:stream";
import { test } from "node:test";
import { relayAuthentication } from "../../src/proxy/mysql/auth-relay.ts";
import { CleartextGuard } from "../../src/proxy/mysql/cleartext-guard.ts";
import { encodePacket } from "../../src/proxy/mysql/packet.ts";
import { PacketChannel } from "../../src/proxy/mysql/packet-channel.ts";

const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const ACCESS_DENIED = Buffer.concat([
  Buffer.from([0xff, 0x15, 0x04]),
  Buffer.from("#28000Access denied for user 'u'"),
]);

/** Relays the end of an exchange whose backend answers `answer`; what the client got, and the result. */
async function finish(answer: Buffer) {
  const [proxyToClient, client] = duplexPair();
  const [proxyToBackend, backend] = duplexPair();
  const received: Buffer[] = [];
  client.on("data", (chunk: Buffer) => received.push(chunk));
  const result = relayAuthentication(
    new PacketChannel(proxyToClient, 1 << 16),
    new PacketChannel(proxyToBackend, 1 << 16),
    2,
    new CleartextGuard(false),
  );
  backend.write(encodePacket(2, answer));
  const outcome = await result;
  await new Promise((resolve) => setImmediate(resolve));
  return { outcome, toClient: Buffer.concat(received) };
}

test("the backend's OK comes back unsent, as the packet the client expects", async () => {
  const { outcome, toClient } = await finish(OK);
  assert.deepEqual(outcome, { outcome: "ok", ok: encodePacket(4, OK) });
  assert.equal(toClient.length, 0);
});

test("the backend's refusal reaches the client at once", async () => {
  const { outcome, toClient } = await finish(ACCESS_DENIED);
  assert.deepEqual(outcome, { outcome: "denied" });
  assert.deepEqual(toClient, encodePacket(4, ACCESS_DENIED));
});
