import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import nodemailer from "nodemailer";
import { SmtpProxy } from "../../src/proxy/smtp/index.ts";
import { makeCertificate } from "../support/certificates.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { type MailBackend, startMailBackend } from "./mail-backend.ts";
import { type ProxyPair, startProxyPair } from "./proxy-pair.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

const run = promisify(execFile);

describe("SmtpProxy STARTTLS", () => {
  const certificate = makeCertificate(["proxy.test", "backend.test"]);
  let plainBackend: MailBackend;
  let tlsBackend: MailBackend;
  let proxies: ProxyPair;
  let helloPort: number;
  let recipientPort: number;

  before(async () => {
    plainBackend = await startMailBackend("plain-backend", { auth: true });
    tlsBackend = await startMailBackend("tls-backend", { tls: certificate });
    proxies = await startProxyPair(
      {
        "a.test": `127.0.0.1:${plainBackend.port}`,
        "secure.test": `127.0.0.1:${tlsBackend.port}`,
      },
      { tls: { cert: certificate.cert, key: certificate.key } },
    );
    ({ helloPort, recipientPort } = proxies);
  });

  after(async () => {
    await proxies.close();
    await plainBackend.close();
    await tlsBackend.close();
    certificate.dispose();
  });

  test("nodemailer requires TLS, authenticates and delivers through the proxy", async () => {
    const client = nodemailer.createTransport({
      host: "127.0.0.1",
      port: helloPort,
      secure: false,
      requireTLS: true,
      name: "a.test",
      tls: { ca: certificate.cert, servername: "proxy.test" },
      auth: { user: "user", pass: "secret" },
    });
    await client.sendMail({ from: "s@client.test", to: "r@elsewhere.test", text: "over TLS" });
    const mail = await plainBackend.nextMail();
    assert.equal(mail.helo, "a.test");
    assert.equal(mail.user, "user");
    assert.match(mail.message.toString(), /over TLS/);
  });

  test("swaks --tls delivers by recipient", async () => {
    await run("swaks", [
      "--server",
      `127.0.0.1:${recipientPort}`,
      "--tls",
      "--ehlo",
      "client.test",
      "--from",
      "s@client.test",
      "--to",
      "r@a.test",
      "--silent",
      "2",
    ]);
    assert.deepEqual((await plainBackend.nextMail()).to, ["r@a.test"]);
  });

  test("a client that declines STARTTLS is connected at its first mail command", async () => {
    await run("swaks", [
      "--server",
      `127.0.0.1:${helloPort}`,
      "--ehlo",
      "a.test",
      "--from",
      "s@client.test",
      "--to",
      "r@elsewhere.test",
      "--silent",
      "2",
    ]);
    const mail = await plainBackend.nextMail();
    assert.equal(mail.helo, "a.test");
    assert.equal(mail.secure, false);
  });

  test("AUTH is offered only once TLS is up; a fresh EHLO is required after it", async () => {
    const client = await RawSmtpClient.connect(helloPort);
    assert.equal((await client.read()).code, 220);
    const before = await client.send("EHLO a.test");
    assert.ok(before.lines.includes("STARTTLS"));
    assert.ok(!before.lines.some((line) => line.startsWith("AUTH")));
    assert.equal((await client.send("STARTTLS")).code, 220);
    await client.startTls(certificate.cert, "proxy.test");
    assert.deepEqual(await client.send("MAIL FROM:<s@client.test>"), {
      code: 503,
      lines: ["5.5.1 Send EHLO or HELO first"],
    });
    const after = await client.send("EHLO a.test");
    assert.ok(!after.lines.includes("STARTTLS"));
    assert.ok(after.lines.some((line) => line.startsWith("AUTH")));
    client.destroy();
  });

  test("commands pipelined after STARTTLS in clear text are discarded (CVE-2011-0411)", async () => {
    const client = await RawSmtpClient.connect(recipientPort);
    await client.read();
    await client.send("EHLO client.test");
    // The injected MAIL FROM would be held if the proxy read it as a TLS command.
    client.write("STARTTLS\r\nMAIL FROM:<attacker@evil.test>\r\n");
    assert.equal((await client.read()).code, 220);
    await client.startTls(certificate.cert, "proxy.test");
    const ehlo = await client.send("EHLO client.test");
    assert.equal(ehlo.lines[0], "proxy.test Hello client.test");
    assert.deepEqual(await client.send("RCPT TO:<r@a.test>"), {
      code: 503,
      lines: ["5.5.1 Send MAIL first"],
    });
    client.destroy();
  });

  test("with backendTls the proxy speaks STARTTLS to the backend too", async () => {
    const proxy = new SmtpProxy({
      router: loopbackRouter({ "secure.test": `127.0.0.1:${tlsBackend.port}` }),
      backendTls: { ca: certificate.cert },
    });
    const { port } = await proxy.listen(0, "127.0.0.1");
    try {
      await nodemailer
        .createTransport({ host: "127.0.0.1", port, ignoreTLS: true, name: "secure.test" })
        .sendMail({ from: "s@client.test", to: "r@elsewhere.test", text: "TLS to the backend" });
      const mail = await tlsBackend.nextMail();
      assert.equal(mail.secure, true);
      assert.equal(mail.helo, "secure.test");
    } finally {
      await proxy.close();
    }
  });
});
