// The SNI router passes a half-close on, as the port router does: a client
// that ends its side still gets the backend's answer, a backend that ends
// first still gets what the client sends after, and a client that ends
// before its backend is reached (it can no longer finish a handshake) is
// closed at once.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Server } from "node:net";
import { after, before, test } from "node:test";
import { createServer as createTlsServer, connect as tlsConnect } from "node:tls";
import { TlsSniProxy } from "../../src/proxy/tls/index.ts";
import { makeCertificate } from "../support/certificates.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { readAll } from "../support/read-all.ts";
import { recordClientHello } from "./client-hello-samples.ts";
import { HeldAsleep } from "./held-asleep.ts";

const certificate = makeCertificate(["upper.test"]);
/** A TLS server that answers once the client has ended its side, in upper case. */
let upper: Server;
/** On the first bytes (the replayed ClientHello) says "bye" and ends its side, then keeps reading. */
let closesFirst: Server;
let afterBye: Promise<string>;
let proxy: TlsSniProxy;
let port: number;

before(async () => {
  upper = createTlsServer(
    { cert: certificate.cert, key: certificate.key, allowHalfOpen: true },
    (socket) => void readAll(socket).then((text) => socket.end(text.toUpperCase())),
  );
  const received = Promise.withResolvers<string>();
  afterBye = received.promise;
  closesFirst = createServer({ allowHalfOpen: true }, (socket) => {
    socket.once("data", () => {
      socket.end("bye");
      void readAll(socket).then(received.resolve);
    });
  });
  for (const server of [upper, closesFirst]) {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
  }
  proxy = new TlsSniProxy({
    router: loopbackRouter({
      "upper.test": `127.0.0.1:${(upper.address() as AddressInfo).port}`,
      "closes-first.test": `127.0.0.1:${(closesFirst.address() as AddressInfo).port}`,
    }),
    // Long enough that only the client's end can explain a prompt close.
    helloTimeoutMs: 60_000,
  });
  port = (await proxy.listen(0, "127.0.0.1")).port;
});

after(async () => {
  // The servers hold the certificate in memory: its files can go first.
  certificate.dispose();
  await proxy.close(0);
  upper.close();
  closesFirst.close();
});

test("a TLS client that ends its side after sending still gets the backend's answer", async () => {
  const client = tlsConnect({
    host: "127.0.0.1",
    port,
    servername: "upper.test",
    ca: certificate.cert,
  });
  await once(client, "secureConnect");
  const answer = readAll(client);
  client.end("hello through a half-close");
  assert.equal(await answer, "HELLO THROUGH A HALF-CLOSE");
  if (!client.closed) await once(client, "close");
});

test("a backend that ends first still gets what the client sends after", async () => {
  const hello = await recordClientHello({ servername: "closes-first.test" });
  const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  client.write(hello);
  assert.equal(await readAll(client), "bye");
  const closed = once(client, "close");
  client.end("sent after the backend's end");
  assert.equal(await afterBye, "sent after the backend's end");
  await closed;
});

test("a client that ends before its ClientHello is complete is closed at once", async () => {
  const hello = await recordClientHello({ servername: "upper.test" });
  for (const sent of [hello.subarray(0, 20), Buffer.alloc(0)]) {
    const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    client.end(sent);
    // A clean close: the proxy ends its side too, with nothing sent.
    assert.equal(await readAll(client), "");
    if (!client.closed) await once(client, "close");
  }
});

test("a client that sends its ClientHello and ends while its backend wakes is closed", async () => {
  const backend = new HeldAsleep(`127.0.0.1:${(upper.address() as AddressInfo).port}`);
  const sleepy = new TlsSniProxy({ router: backend.router });
  const sleepyPort = (await sleepy.listen(0, "127.0.0.1")).port;
  try {
    const hello = await recordClientHello({ servername: "upper.test" });
    const client = connect({ host: "127.0.0.1", port: sleepyPort, allowHalfOpen: true });
    const answer = readAll(client);
    const closed = once(client, "close");
    client.write(hello);
    await backend.wakeRequested;
    // It can no longer finish a TLS handshake: it counts as gone.
    client.end();
    await backend.waiterLeft();
    assert.equal(await answer, "");
    await closed;
  } finally {
    // Lets the proxy's poll of the sleeping backend end while the backend is up.
    backend.letWake();
    await backend.router.route("upper.test", { protocol: "tls" });
    await sleepy.close(0);
  }
});
