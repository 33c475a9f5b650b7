// Closing the SMTP proxy: sessions between commands get 421 4.3.2 and are
// closed at once; sessions in the middle of a message or an exchange finish
// it first and get the 421 right after. close() resolves as soon as every
// session has ended, long before its deadline.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import nodemailer from "nodemailer";
import { SmtpProxy } from "../../src/proxy/smtp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { HeldAsleep } from "../tls/held-asleep.ts";
import { type MailBackend, startMailBackend } from "./mail-backend.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

/** Far longer than any test here may take: only the sessions' ends can explain a prompt close. */
const DEADLINE_MS = 60_000;
const SHUTTING_DOWN = /^4\.3\.2 proxy\.test Service shutting down$/;

let backend: MailBackend;

before(async () => {
  backend = await startMailBackend("backend");
});

after(() => backend.close());

function proxy(routeBy: "ehlo" | "recipient"): SmtpProxy {
  return new SmtpProxy({
    router: loopbackRouter({ "a.test": `127.0.0.1:${backend.port}` }),
    hostname: "proxy.test",
    routeBy,
  });
}

/** Waits for `closing`, failing after 5 s: long before the drain deadline. */
async function promptly(closing: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("close() waited for the deadline")), 5_000);
  });
  try {
    await Promise.race([closing, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function greeted(port: number): Promise<RawSmtpClient> {
  const client = await RawSmtpClient.connect(port);
  assert.equal((await client.read()).code, 220);
  return client;
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
      assert.equal((await client.send("EHLO a.test")).code, 250);
      assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
      assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 250);
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
