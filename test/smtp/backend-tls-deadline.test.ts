// A backend that agrees to STARTTLS and then never answers the TLS handshake
// must not hold the client's session open: the backend timeout covers the
// handshake too.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { test } from "node:test";
import { SmtpProxy } from "../../src/proxy/smtp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

test("SMTP proxy gives up on a backend TLS handshake that never ends", async () => {
  const backendClosed: Promise<unknown>[] = [];
  // Says yes to STARTTLS, then stays silent.
  const silent = createServer((socket: Socket) => {
    backendClosed.push(once(socket, "close"));
    socket.on("error", () => {});
    socket.write("220 silent.test ESMTP\r\n");
    let tlsPromised = false;
    socket.on("data", (chunk: Buffer) => {
      if (tlsPromised) return;
      const text = chunk.toString("latin1");
      if (text.startsWith("EHLO")) socket.write("250-silent.test\r\n250 STARTTLS\r\n");
      if (text.startsWith("STARTTLS")) {
        tlsPromised = true;
        socket.write("220 2.0.0 Go ahead\r\n");
      }
    });
  });
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  const proxy = new SmtpProxy({
    router: loopbackRouter({ "a.test": `127.0.0.1:${(silent.address() as AddressInfo).port}` }),
    hostname: "proxy.test",
    backendTls: true,
    backendTimeoutMs: 300,
  });
  const { port } = await proxy.listen(0, "127.0.0.1");
  try {
    const client = await RawSmtpClient.connect(port);
    assert.equal((await client.read()).code, 220);
    assert.deepEqual(await client.send("EHLO a.test"), {
      code: 421,
      lines: ["4.4.1 Mail service for a.test is unavailable, try again later"],
    });
    await client.closed();
    assert.equal(backendClosed.length, 1);
    await backendClosed[0]; // the proxy closed its half-open TLS connection
  } finally {
    await proxy.close();
    silent.close();
  }
});
