// Closing the SMTP proxy: sessions between commands get 421 4.3.2 and are
// closed at once; sessions in the middle of a message or an exchange finish
// it first and get the 421 right after. close() resolves as soon as every
// session has ended, long before its deadline.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import nodemailer from "nodemailer";
import { SmtpProxy, type SmtpReply } from "../../src/proxy/smtp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { HeldAsleep } from "../tls/held-asleep.ts";
import { startChunkingBackend } from "./chunking-backend.ts";
import { type MailBackend, startMailBackend } from "./mail-backend.ts";
import { promptly } from "./promptly.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

/** Far longer than any test here may take: only the sessions' ends can explain a prompt close. */
const DEADLINE_MS = 60_000;
const SHUTTING_DOWN = /^4\.3\.2 proxy\.test Service shutting down$/;

let backend: MailBackend;
/** Offers AUTH PLAIN and LOGIN, for user/secret. */
let authBackend: MailBackend;

before(async () => {
  backend = await startMailBackend("backend");
  authBackend = await startMailBackend("auth", { auth: true });
});

after(async () => {
  await backend.close();
  await authBackend.close();
});

function proxy(routeBy: "ehlo" | "recipient", port = backend.port): SmtpProxy {
  return new SmtpProxy({
    router: loopbackRouter({ "a.test": `127.0.0.1:${port}` }),
    hostname: "proxy.test",
    routeBy,
  });
}

async function greeted(port: number): Promise<RawSmtpClient> {
  const client = await RawSmtpClient.connect(port);
  assert.equal((await client.read()).code, 220);
  return client;
}

/** EHLO, MAIL FROM and RCPT TO, each accepted; returns the EHLO reply. */
async function startMessage(client: RawSmtpClient): Promise<SmtpReply> {
  const hello = await client.send("EHLO a.test");
  assert.equal(hello.code, 250);
  assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
  assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 250);
  return hello;
}

async function expectShutdown(client: RawSmtpClient): Promise<void> {
  const reply = await client.read();
  assert.equal(reply.code, 421);
  assert.match(reply.lines[0]!, SHUTTING_DOWN);
  await client.closed();
}

test("a session waiting for its next command before routing gets 421 at once", async () => {
  const server = proxy("recipient");
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await greeted(port);
    assert.equal((await client.send("EHLO client.test")).code, 250);
    // Held by the proxy until a recipient names the backend.
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
    const closing = server.close(DEADLINE_MS);
    await expectShutdown(client);
    await promptly(closing);
  } finally {
    await server.close(0);
  }
});

test("a command line begun before close() gets the 421; what follows it is dropped", async () => {
  const server = proxy("recipient");
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await greeted(port);
    client.write("NO");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closing = server.close(DEADLINE_MS);
    client.write("OP\r\n");
    const reply = await client.read();
    assert.equal(reply.code, 421);
    assert.match(reply.lines[0]!, SHUTTING_DOWN);
    // A client that goes on regardless, then ends its side, is closed.
    client.write("RSET\r\n");
    client.end();
    await client.closed();
    await promptly(closing);
  } finally {
    await server.close(0);
  }
});

test("a relayed session between commands gets 421 at once", async () => {
  const server = proxy("ehlo");
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await greeted(port);
    // Routing by EHLO: from here on the session is relayed.
    assert.equal((await client.send("EHLO a.test")).code, 250);
    assert.equal((await client.send("NOOP")).code, 250);
    const closing = server.close(DEADLINE_MS);
    await expectShutdown(client);
    await promptly(closing);
  } finally {
    await server.close(0);
  }
});

test("a session in the middle of DATA delivers its message, then gets 421", async () => {
  for (const routeBy of ["ehlo", "recipient"] as const) {
    const server = proxy(routeBy);
    try {
      const { port } = await server.listen(0, "127.0.0.1");
      const client = await greeted(port);
      await startMessage(client);
      assert.equal((await client.send("DATA")).code, 354);
      client.write("Subject: drain\r\n\r\nfirst line\r\n");
      const closing = server.close(DEADLINE_MS);
      // Lines that look like the end or like commands are message content.
      client.write("..\r\nQUIT\r\n");
      const mail = backend.nextMail();
      assert.equal((await client.send("last line\r\n.")).code, 250);
      assert.equal(
        (await mail).message.toString(),
        "Subject: drain\r\n\r\nfirst line\r\n.\r\nQUIT\r\nlast line\r\n",
      );
      await expectShutdown(client);
      await promptly(closing);
    } finally {
      await server.close(0);
    }
  }
});

test("a session between two BDAT chunks of one message sends the last one, then gets 421", async () => {
  const chunking = await startChunkingBackend();
  const server = proxy("ehlo", chunking.port);
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await greeted(port);
    assert.match((await startMessage(client)).lines.join(" "), /CHUNKING/);
    client.write("BDAT 5\r\nhello");
    assert.equal((await client.read()).code, 250);
    const closing = server.close(DEADLINE_MS);
    client.write("BDAT 6 LAST\r\n world");
    assert.deepEqual(await client.read(), { code: 250, lines: ["2.0.0 queued"] });
    assert.deepEqual(chunking.messages, ["hello world"]);
    await expectShutdown(client);
    await promptly(closing);
  } finally {
    await server.close(0);
    await chunking.close();
  }
});

test("a session in the middle of AUTH finishes it, then gets 421", async () => {
  const server = proxy("ehlo", authBackend.port);
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await greeted(port);
    assert.equal((await client.send("EHLO a.test")).code, 250);
    assert.equal((await client.send("AUTH LOGIN")).code, 334);
    const closing = server.close(DEADLINE_MS);
    // Were the session taken as idle here, the backend would read the proxy's QUIT as the user name.
    assert.equal((await client.send(Buffer.from("user").toString("base64"))).code, 334);
    assert.equal((await client.send(Buffer.from("secret").toString("base64"))).code, 235);
    await expectShutdown(client);
    await promptly(closing);
  } finally {
    await server.close(0);
  }
});

test("a session that sends QUIT while draining gets the backend's 221 and no 421", async () => {
  const server = proxy("ehlo");
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await greeted(port);
    await startMessage(client);
    assert.equal((await client.send("DATA")).code, 354);
    const closing = server.close(DEADLINE_MS);
    const mail = backend.nextMail();
    client.write("Subject: quit\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert.equal((await client.read()).code, 250);
    assert.equal((await mail).from, "s@client.test");
    assert.equal((await client.read()).code, 221);
    await assert.rejects(client.read(), /closed the connection/);
    await promptly(closing);
  } finally {
    await server.close(0);
  }
});

test("a session whose EHLO waits for a cold start gets its answer, then 421", async () => {
  const asleep = new HeldAsleep(`127.0.0.1:${backend.port}`);
  const server = new SmtpProxy({ router: asleep.router, hostname: "proxy.test" });
  try {
    const { port } = await server.listen(0, "127.0.0.1");
    const client = await greeted(port);
    const hello = client.send("EHLO a.test");
    await asleep.wakeRequested;
    const closing = server.close(DEADLINE_MS);
    asleep.letWake();
    assert.equal((await hello).code, 250);
    await expectShutdown(client);
    await promptly(closing);
  } finally {
    await server.close(0);
  }
});

test("nodemailer's pooled connection, idle after a delivery, is closed with 421", async () => {
  const server = proxy("ehlo");
  const { port } = await server.listen(0, "127.0.0.1");
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    ignoreTLS: true,
    name: "a.test",
    pool: true,
    maxConnections: 1,
  });
  try {
    const mail = backend.nextMail();
    await transport.sendMail({
      from: "s@client.test",
      to: "r@a.test",
      subject: "pooled",
      text: "kept open after",
    });
    assert.equal((await mail).from, "s@client.test");
    await promptly(server.close(DEADLINE_MS));
  } finally {
    transport.close();
    await server.close(0);
  }
});
