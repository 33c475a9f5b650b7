import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { makeCertificate } from "../support/certificates.ts";
import { type MailBackend, startMailBackend } from "./mail-backend.ts";
import { type ProxyPair, startProxyPair } from "./proxy-pair.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

describe("SmtpProxy replays the session start and reconciles the backend's replies", () => {
  const certificate = makeCertificate(["backend.test"]);
  let backend: MailBackend;
  let proxies: ProxyPair;
  let helloPort: number;
  let recipientPort: number;

  before(async () => {
    // This backend offers STARTTLS and AUTH, and refuses one sender.
    backend = await startMailBackend("backend", {
      auth: true,
      tls: certificate,
      refuseSender: "refused@client.test",
    });
    proxies = await startProxyPair({ "a.test": `127.0.0.1:${backend.port}` });
    ({ helloPort, recipientPort } = proxies);
  });

  after(async () => {
    await proxies.close();
    await backend.close();
    certificate.dispose();
  });

  test("the EHLO reply names the proxy and keeps the backend's relayable extensions only", async () => {
    const client = await RawSmtpClient.connect(helloPort);
    await client.read();
    const ehlo = await client.send("EHLO a.test");
    assert.equal(ehlo.code, 250);
    assert.equal(ehlo.lines[0], "proxy.test Hello a.test");
    assert.ok(ehlo.lines.includes("PIPELINING"));
    assert.ok(ehlo.lines.some((line) => line.startsWith("AUTH ")));
    // The backend's STARTTLS would be between proxy and backend: not offered.
    assert.ok(!ehlo.lines.includes("STARTTLS"));
    client.destroy();
  });

  test("HELO is replayed as HELO and the session relayed", async () => {
    const client = await RawSmtpClient.connect(helloPort);
    await client.read();
    assert.deepEqual(await client.send("HELO a.test"), {
      code: 250,
      lines: ["proxy.test Hello a.test"],
    });
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
    assert.equal((await client.send("RCPT TO:<r@x.test>")).code, 250);
    assert.equal((await client.send("DATA")).code, 354);
    assert.equal((await client.send("Subject: helo\r\n\r\nbody\r\n.")).code, 250);
    assert.equal((await backend.nextMail()).helo, "a.test");
    client.destroy();
  });

  test("a sender the backend refuses: the first RCPT carries the backend's refusal", async () => {
    const client = await RawSmtpClient.connect(recipientPort);
    await client.read();
    await client.send("EHLO client.test");
    assert.equal((await client.send("MAIL FROM:<refused@client.test>")).code, 250);
    const rcpt = await client.send("RCPT TO:<r@a.test>");
    assert.equal(rcpt.code, 550);
    assert.match(rcpt.lines[0]!, /Sender refused/);
    // From here the backend answers: it has no sender, so no recipient either.
    assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 503);
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
    assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 250);
    client.destroy();
  });
});
