import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  type BackendRouterOptions,
  type Resolver,
  StaticResolver,
  type StaticRoutes,
} from "../../src/proxy/core/index.ts";
import { SmtpProxy, type SmtpProxyOptions } from "../../src/proxy/smtp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { type MailBackend, startMailBackend } from "./mail-backend.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

describe("SmtpProxy errors in SMTP terms", () => {
  let backend: MailBackend;
  let grumpy: Server;
  let routes: StaticRoutes;
  const proxies: SmtpProxy[] = [];

  /** A proxy over `routes` and a connected client that has read the greeting. */
  async function session(
    options: Partial<SmtpProxyOptions> = {},
    routerOptions: Partial<BackendRouterOptions> = {},
  ): Promise<RawSmtpClient> {
    const proxy = new SmtpProxy({
      router: loopbackRouter(routes, routerOptions),
      hostname: "proxy.test",
      ...options,
    });
    proxies.push(proxy);
    const { port } = await proxy.listen(0, "127.0.0.1");
    const client = await RawSmtpClient.connect(port);
    assert.deepEqual(await client.read(), { code: 220, lines: ["proxy.test ESMTP Nexus"] });
    return client;
  }

  before(async () => {
    backend = await startMailBackend("backend");
    // A backend that refuses every session in its greeting.
    grumpy = createServer((socket) => socket.end("554 5.3.2 Not accepting mail\r\n"));
    grumpy.listen(0, "127.0.0.1");
    await once(grumpy, "listening");
    routes = {
      "a.test": `127.0.0.1:${backend.port}`,
      "down.test": "127.0.0.1:1", // nothing listens on port 1
      "grumpy.test": `127.0.0.1:${(grumpy.address() as AddressInfo).port}`,
      "sleepy.test": { endpoint: `127.0.0.1:${backend.port}`, asleep: true },
    };
  });

  after(async () => {
    for (const proxy of proxies) await proxy.close();
    await backend.close();
    grumpy.close();
  });

  test("unknown domain: 554 at EHLO, and the session goes on", async () => {
    const client = await session();
    assert.deepEqual(await client.send("EHLO nowhere.test"), {
      code: 554,
      lines: ["5.7.1 No mail service for nowhere.test"],
    });
    assert.equal((await client.send("EHLO a.test")).code, 250);
    client.destroy();
  });

  test("unknown recipient domain: 550 at RCPT, and another recipient still works", async () => {
    const client = await session({ routeBy: "recipient" });
    await client.send("EHLO client.test");
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
    assert.deepEqual(await client.send("RCPT TO:<r@nowhere.test>"), {
      code: 550,
      lines: ["5.1.2 nowhere.test: recipient domain not served here"],
    });
    assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 250);
    assert.equal((await client.send("DATA")).code, 354);
    assert.equal((await client.send("Subject: late\r\n\r\nbody\r\n.")).code, 250);
    assert.deepEqual((await backend.nextMail()).to, ["r@a.test"]);
    client.destroy();
  });

  test("backend down: 421 and a close at EHLO, 451 at RCPT with the session kept", async () => {
    const atHello = await session();
    const reply = await atHello.send("EHLO down.test");
    assert.equal(reply.code, 421);
    assert.match(reply.lines[0]!, /^4\.4\.1 Mail service for down\.test is unavailable/);
    await atHello.closed();
    const atRecipient = await session({ routeBy: "recipient" });
    await atRecipient.send("EHLO client.test");
    await atRecipient.send("MAIL FROM:<s@client.test>");
    assert.equal((await atRecipient.send("RCPT TO:<r@down.test>")).code, 451);
    assert.equal((await atRecipient.send("QUIT")).code, 221);
    await atRecipient.closed();
  });

  test("a backend that refuses the session counts as down", async () => {
    const client = await session();
    assert.equal((await client.send("EHLO grumpy.test")).code, 421);
    await client.closed();
  });

  test("cold start timeout: 451, the client may come back", async () => {
    const client = await session({}, { coldStart: { timeoutMs: 200, pollIntervalMs: 20 } });
    const reply = await client.send("EHLO sleepy.test");
    assert.equal(reply.code, 451);
    assert.match(reply.lines[0]!, /^4\.4\.1 .*starting/);
    assert.equal((await client.send("NOOP")).code, 250);
    client.destroy();
  });

  test("too many connections waiting for a cold start: 421", async () => {
    // The first session's EHLO wakes the backend and waits; the queue holds one.
    const statics = new StaticResolver(routes);
    let woken: () => void = () => {};
    const wakeCalled = new Promise<void>((resolve) => {
      woken = resolve;
    });
    const resolver: Resolver = { resolve: (key) => statics.resolve(key), wake: () => woken() };
    const proxy = new SmtpProxy({
      router: loopbackRouter(resolver, { coldStart: { timeoutMs: 3000, maxQueue: 1 } }),
      hostname: "proxy.test",
    });
    proxies.push(proxy);
    const { port } = await proxy.listen(0, "127.0.0.1");
    const waiting = await RawSmtpClient.connect(port);
    await waiting.read();
    waiting.write("EHLO sleepy.test\r\n");
    await wakeCalled;
    const refused = await RawSmtpClient.connect(port);
    await refused.read();
    const reply = await refused.send("EHLO sleepy.test");
    assert.equal(reply.code, 421);
    assert.match(reply.lines[0]!, /^4\.3\.2 Too many connections waiting for sleepy\.test/);
    await refused.closed();
    waiting.destroy();
  });

  test("too many connections to the proxy: 421 in place of the greeting", async () => {
    const proxy = new SmtpProxy({
      router: loopbackRouter(routes),
      hostname: "proxy.test",
      maxConnections: 1,
    });
    proxies.push(proxy);
    const { port } = await proxy.listen(0, "127.0.0.1");
    const first = await RawSmtpClient.connect(port);
    assert.equal((await first.read()).code, 220);
    const second = await RawSmtpClient.connect(port);
    assert.deepEqual(await second.read(), {
      code: 421,
      lines: ["4.3.2 proxy.test Too many connections, try again later"],
    });
    await second.closed();
    first.destroy();
  });

  test("a line over the limit: 500, then the session goes on", async () => {
    const client = await session({ maxLineLength: 100 });
    assert.deepEqual(await client.send(`EHLO ${"a".repeat(200)}.test`), {
      code: 500,
      lines: ["5.5.2 Line too long"],
    });
    assert.equal((await client.send("NOOP")).code, 250);
    client.destroy();
  });

  test("an idle client gets 421 and is closed", async () => {
    const client = await session({ idleTimeoutMs: 100 });
    const reply = await client.read();
    assert.deepEqual(reply, {
      code: 421,
      lines: ["4.4.2 proxy.test Idle timeout, closing connection"],
    });
    await client.closed();
  });

  test("a relayed session idle for too long is closed on both sides", async () => {
    const client = await session({ relayIdleTimeoutMs: 100 });
    assert.equal((await client.send("EHLO a.test")).code, 250);
    await client.closed();
  });

  test("commands out of order and bad syntax get 503 and 501", async () => {
    const client = await session({ routeBy: "recipient", maxMessageSize: 1000 });
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 503);
    assert.equal((await client.send("EHLO")).code, 501);
    const ehlo = await client.send("EHLO client.test");
    assert.deepEqual(ehlo.lines, [
      "proxy.test Hello client.test",
      "SIZE 1000",
      "8BITMIME",
      "PIPELINING",
      "ENHANCEDSTATUSCODES",
    ]);
    assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 503);
    assert.equal((await client.send("DATA")).code, 503);
    assert.equal((await client.send("MAIL FROM:<s@client.test> SIZE=5000")).code, 552);
    assert.equal((await client.send("MAIL FROM:s@client.test")).code, 501);
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 250);
    assert.equal((await client.send("MAIL FROM:<s@client.test>")).code, 503);
    assert.equal((await client.send("RCPT TO:<not an address>")).code, 501);
    assert.equal((await client.send("AUTH PLAIN")).code, 502);
    assert.equal((await client.send("STARTTLS")).code, 502);
    assert.equal((await client.send("\u0016\u0003\u0001")).code, 500);
    assert.equal((await client.send("RSET")).code, 250);
    assert.equal((await client.send("RCPT TO:<r@a.test>")).code, 503);
    client.destroy();
  });
});
