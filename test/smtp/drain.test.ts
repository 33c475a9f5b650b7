// Closing the SMTP proxy lets a session in progress deliver its mail.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SmtpProxy } from "../../src/proxy/smtp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { startMailBackend } from "./mail-backend.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

test("SMTP proxy close() lets a relayed session finish its mail", async () => {
  const backend = await startMailBackend("backend");
  const proxy = new SmtpProxy({
    router: loopbackRouter({ "a.test": `127.0.0.1:${backend.port}` }),
    hostname: "proxy.test",
  });
  try {
    const { port } = await proxy.listen(0, "127.0.0.1");
    const client = await RawSmtpClient.connect(port);
    assert.equal((await client.read()).code, 220);
    assert.equal((await client.send("EHLO a.test")).code, 250);
    const closing = proxy.close(60_000);
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
    assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 250);
    assert.equal((await client.send("DATA")).code, 354);
    const mail = backend.nextMail();
    assert.equal((await client.send("Subject: drain\r\n\r\nbody\r\n.")).code, 250);
    assert.equal((await mail).from, "s@client.test");
    assert.equal((await client.send("QUIT")).code, 221);
    await closing;
  } finally {
    await proxy.close(0);
    await backend.close();
  }
});
