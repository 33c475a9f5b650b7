import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import nodemailer from "nodemailer";
import MailComposer from "nodemailer/lib/mail-composer/index.js";
import { type MailBackend, startMailBackend } from "./mail-backend.ts";
import { type ProxyPair, startProxyPair } from "./proxy-pair.ts";

const run = promisify(execFile);

/** A message with a text part holding lines that need dot-stuffing and two attachments. */
async function composeMessage(to: string): Promise<Buffer> {
  const composer = new MailComposer({
    from: "sender@client.test",
    to,
    subject: "Attachments through the proxy",
    text: "Line one\r\n.\r\n..two dots\r\n.leading dot\r\nlast line",
    attachments: [
      { filename: "random.bin", content: randomBytes(300_000) },
      { filename: "notes.txt", content: "plain text attachment\r\n.\r\nwith a lone dot line\r\n" },
    ],
  });
  return composer.compile().build();
}

/** What smtp-server hands over for `raw`: the same bytes, ending in CRLF. */
function asDelivered(raw: Buffer): Buffer {
  return raw.subarray(-2).toString() === "\r\n" ? raw : Buffer.concat([raw, Buffer.from("\r\n")]);
}

function transport(port: number, name: string, auth?: { user: string; pass: string }) {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    ignoreTLS: true,
    name,
    ...(auth ? { auth } : {}),
  });
}

describe("SmtpProxy with nodemailer and swaks against smtp-server backends", () => {
  let backendA: MailBackend;
  let backendB: MailBackend;
  let proxies: ProxyPair;
  let helloPort: number;
  let recipientPort: number;

  before(async () => {
    backendA = await startMailBackend("backend-a", { auth: true });
    backendB = await startMailBackend("backend-b", { auth: true });
    proxies = await startProxyPair({
      "a.test": `127.0.0.1:${backendA.port}`,
      "b.test": `127.0.0.1:${backendB.port}`,
    });
    ({ helloPort, recipientPort } = proxies);
  });

  after(async () => {
    await proxies.close();
    await backendA.close();
    await backendB.close();
  });

  test("by EHLO domain: each client reaches the backend its EHLO names", async () => {
    for (const [name, backend] of [
      ["a.test", backendA],
      ["b.test", backendB],
    ] as const) {
      const info = await transport(helloPort, name).sendMail({
        from: "sender@client.test",
        to: "someone@elsewhere.test",
        subject: `for ${name}`,
        text: "hello",
      });
      assert.deepEqual(info.accepted, ["someone@elsewhere.test"]);
      const mail = await backend.nextMail();
      assert.equal(mail.helo, name);
      assert.deepEqual(mail.to, ["someone@elsewhere.test"]);
      assert.match(mail.message.toString(), new RegExp(`Subject: for ${name.replace(".", "\\.")}`));
    }
  });

  test("by recipient: the first RCPT domain picks the backend, MAIL and RCPT pipelined", async () => {
    for (const [to, backend] of [
      [["x@b.test", "y@b.test"], backendB],
      [["z@a.test"], backendA],
    ] as const) {
      const info = await transport(recipientPort, "client.test").sendMail({
        from: "sender@client.test",
        to: [...to],
        subject: "routed by recipient",
        text: "hello",
      });
      assert.deepEqual(info.accepted, to);
      const mail = await backend.nextMail();
      assert.equal(mail.helo, "client.test");
      assert.equal(mail.from, "sender@client.test");
      assert.deepEqual(mail.to, to);
    }
  });

  test("a message with attachments arrives byte for byte, in both routing modes", async () => {
    for (const [port, name, to, backend] of [
      [helloPort, "b.test", "anyone@nowhere.test", backendB],
      [recipientPort, "client.test", "someone@a.test", backendA],
    ] as const) {
      const raw = await composeMessage(to);
      await transport(port, name).sendMail({ envelope: { from: "sender@client.test", to }, raw });
      const mail = await backend.nextMail();
      assert.ok(
        mail.message.equals(asDelivered(raw)),
        "the backend got other bytes than were sent",
      );
    }
  });

  test("AUTH passes through to the backend, success and failure alike", async () => {
    await transport(helloPort, "a.test", { user: "user", pass: "secret" }).sendMail({
      from: "sender@client.test",
      to: "someone@elsewhere.test",
      text: "authenticated",
    });
    assert.equal((await backendA.nextMail()).user, "user");
    await assert.rejects(
      transport(helloPort, "a.test", { user: "user", pass: "wrong" }).sendMail({
        from: "sender@client.test",
        to: "someone@elsewhere.test",
        text: "refused",
      }),
      (error: { responseCode?: number }) => error.responseCode === 535,
    );
  });

  test("swaks delivers by EHLO domain with AUTH LOGIN, and by recipient", async () => {
    const common = ["--from", "sender@client.test", "--body", "sent by swaks", "--silent", "2"];
    await run("swaks", [
      ...common,
      "--server",
      `127.0.0.1:${helloPort}`,
      "--ehlo",
      "b.test",
      "--to",
      "someone@elsewhere.test",
      "--auth",
      "LOGIN",
      "--auth-user",
      "user",
      "--auth-password",
      "secret",
    ]);
    const viaHello = await backendB.nextMail();
    assert.equal(viaHello.user, "user");
    assert.match(viaHello.message.toString(), /sent by swaks/);
    await run("swaks", [
      ...common,
      "--server",
      `127.0.0.1:${recipientPort}`,
      "--ehlo",
      "client.test",
      "--to",
      "someone@a.test",
    ]);
    assert.deepEqual((await backendA.nextMail()).to, ["someone@a.test"]);
  });
});
