// A client that pipelines commands and never reads the replies must not make
// the proxy buffer replies without end: the session stops reading while its
// replies wait, and the idle timeout still closes it.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { test } from "node:test";
import { SmtpSession } from "../../src/proxy/smtp/smtp-session.ts";
import { loopbackRouter } from "../support/loopback-router.ts";

test("SMTP session stops reading while its replies are unread", async () => {
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    new SmtpSession(socket, {
      router: loopbackRouter({}),
      hostname: "proxy.test",
      routeBy: "ehlo",
      secureContext: undefined,
      backendTls: undefined,
      maxLineLength: 1000,
      maxMessageSize: 0,
      idleTimeoutMs: 500,
      relayIdleTimeoutMs: 500,
      backendTimeoutMs: 1000,
      closeGraceMs: 500,
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const client = connect((server.address() as AddressInfo).port, "127.0.0.1");
  client.on("error", () => {});
  await once(client, "connect");
  client.pause(); // never reads a reply
  // 8 MiB of NOOPs: 1.4 million replies, 22 MiB if all were buffered.
  client.write(Buffer.from("NOOP\r\n".repeat(1_400_000)));

  while (accepted.length === 0) await once(server, "connection");
  const session = accepted[0]!;
  const bound = 256 * 1024;
  let mostUnread = 0;
  const sample = setInterval(() => {
    mostUnread = Math.max(mostUnread, session.writableLength);
    if (mostUnread >= bound) session.destroy(); // fails below, without waiting
  }, 5);
  // The idle timeout closes the session although its last reply cannot be delivered.
  await once(session, "close");
  clearInterval(sample);
  assert.ok(mostUnread < bound, `${mostUnread} bytes of replies waited unread`);
  assert.ok(session.bytesRead < 4 * 1024 * 1024, `${session.bytesRead} bytes were read`);
  client.destroy();
  server.close();
});
