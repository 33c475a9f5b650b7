// A client that leaves while its backend wakes gives its place in the
// cold-start queue back, whether the proxy was checking the route at EHLO
// (STARTTLS still possible) or connecting to the backend.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SmtpProxy, type SmtpProxyOptions } from "../../src/proxy/smtp/index.ts";
import { makeCertificate } from "../support/certificates.ts";
import { HeldAsleep } from "../tls/held-asleep.ts";
import { type MailBackend, startMailBackend } from "./mail-backend.ts";
import { RawSmtpClient } from "./raw-smtp-client.ts";

describe("SMTP cold start", () => {
  const certificate = makeCertificate(["proxy.test"]);
  let mail: MailBackend;

  before(async () => {
    mail = await startMailBackend("backend");
  });

  after(async () => {
    await mail.close();
    certificate.dispose();
  });

  async function leaveThenStay(options: Partial<SmtpProxyOptions>): Promise<void> {
    const backend = new HeldAsleep(`127.0.0.1:${mail.port}`);
    const proxy = new SmtpProxy({ router: backend.router, hostname: "proxy.test", ...options });
    try {
      const { port } = await proxy.listen(0, "127.0.0.1");
      const leaving = await RawSmtpClient.connect(port);
      await leaving.read();
      leaving.write("EHLO a.test\r\n");
      await backend.wakeRequested;
      leaving.destroy();
      await backend.waiterLeft();
      // The queue holds one: the next client waits instead of getting 421.
      const staying = await RawSmtpClient.connect(port);
      await staying.read();
      const hello = staying.send("EHLO a.test");
      backend.letWake();
      assert.equal((await hello).code, 250);
      assert.equal((await staying.send("QUIT")).code, 221);
    } finally {
      await proxy.close(0);
    }
  }

  test("leaving during the route check at EHLO frees the queue place", () =>
    leaveThenStay({ tls: { cert: certificate.cert, key: certificate.key } }));

  test("leaving while the backend is connected frees the queue place", () => leaveThenStay({}));
});
