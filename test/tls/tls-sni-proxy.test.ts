import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer as createHttpsServer, type Server } from "node:https";
import { type AddressInfo, connect as netConnect } from "node:net";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import { TlsSniProxy } from "../../src/proxy/tls/index.ts";
import { makeCertificate, type TestCertificate } from "../support/certificates.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { recordClientHello } from "./client-hello-samples.ts";

const run = promisify(execFile);

/** An HTTPS backend that answers with its name and the ALPN protocol it agreed. */
async function startBackend(
  name: string,
  certificate: TestCertificate,
  alpn: string[],
): Promise<{ server: Server; port: number }> {
  const server = createHttpsServer(
    { cert: certificate.cert, key: certificate.key, ALPNProtocols: alpn },
    (request, response) => {
      const socket = request.socket as import("node:tls").TLSSocket;
      response.end(`${name} ${socket.alpnProtocol} ${socket.servername}`);
    },
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port };
}

/** Speaks HTTP/1.1 over node:tls through the proxy and returns the body and agreed ALPN. */
async function fetchOverTls(
  port: number,
  certificate: TestCertificate,
  servername: string | undefined,
  alpn?: string[],
): Promise<{ body: string; alpn: string | false }> {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port,
    ca: certificate.cert,
    ...(servername === undefined ? { checkServerIdentity: () => undefined } : { servername }),
    ...(alpn ? { ALPNProtocols: alpn } : {}),
  });
  await once(socket, "secureConnect");
  socket.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  return { body: text.slice(text.indexOf("\r\n\r\n") + 4), alpn: socket.alpnProtocol ?? false };
}

/** Resolves when the proxy closes the connection, with whatever it sent first. */
async function closedWith(port: number, send: Buffer): Promise<Buffer> {
  const socket = netConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  socket.write(send);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "close");
  return Buffer.concat(chunks);
}

describe("TlsSniProxy", () => {
  const certificate = makeCertificate(["a.test", "b.test", "c.test"]);
  let backendA: { server: Server; port: number };
  let backendB: { server: Server; port: number };
  let proxy: TlsSniProxy;
  let proxyPort: number;
  let strictProxy: TlsSniProxy;
  let strictPort: number;

  before(async () => {
    backendA = await startBackend("a", certificate, ["http/1.1"]);
    backendB = await startBackend("b", certificate, ["x-nexus", "http/1.1"]);
    const routes = {
      "a.test": `127.0.0.1:${backendA.port}`,
      "b.test": `127.0.0.1:${backendB.port}`,
      "c.test": "127.0.0.1:1", // nothing listens on port 1
    };
    proxy = new TlsSniProxy({
      router: loopbackRouter(routes),
      defaultRoute: "a.test",
      maxClientHelloBytes: 4096,
    });
    proxyPort = (await proxy.listen(0, "127.0.0.1")).port;
    strictProxy = new TlsSniProxy({
      router: loopbackRouter(routes),
    });
    strictPort = (await strictProxy.listen(0, "127.0.0.1")).port;
  });

  after(async () => {
    await proxy.close();
    await strictProxy.close();
    backendA.server.close();
    backendB.server.close();
    certificate.dispose();
  });

  test("node:tls reaches each backend by server name, ALPN agreed end to end", async () => {
    assert.deepEqual(await fetchOverTls(proxyPort, certificate, "a.test"), {
      body: "a false a.test",
      alpn: false,
    });
    assert.deepEqual(await fetchOverTls(proxyPort, certificate, "b.test", ["h2", "x-nexus"]), {
      body: "b x-nexus b.test",
      alpn: "x-nexus",
    });
  });

  test("openssl s_client reaches the backend its -servername names", async () => {
    const child = spawn(
      "openssl",
      [
        "s_client",
        "-connect",
        `127.0.0.1:${proxyPort}`,
        "-servername",
        "b.test",
        "-alpn",
        "x-nexus",
        "-CAfile",
        certificate.certPath,
        "-verify_return_error",
        "-ign_eof",
      ],
      { stdio: ["pipe", "pipe", "ignore"] },
    );
    child.stdin.end("GET / HTTP/1.1\r\nHost: b.test\r\nConnection: close\r\n\r\n");
    const chunks: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
    const [code] = await once(child, "exit");
    const output = Buffer.concat(chunks).toString();
    assert.equal(code, 0, output);
    assert.match(output, /ALPN protocol: x-nexus/);
    assert.match(output, /b x-nexus b\.test/);
  });

  test("curl --resolve reaches both backends by name", async () => {
    for (const name of ["a.test", "b.test"]) {
      const { stdout } = await run("curl", [
        "--silent",
        "--show-error",
        "--http1.1",
        "--cacert",
        certificate.certPath,
        "--resolve",
        `${name}:${proxyPort}:127.0.0.1`,
        `https://${name}:${proxyPort}/`,
      ]);
      assert.equal(stdout, `${name[0]} http/1.1 ${name}`);
    }
  });

  test("a ClientHello sent in small pieces is read whole and replayed", async () => {
    const hello = await recordClientHello({ servername: "b.test", ALPNProtocols: ["x-nexus"] });
    const socket = netConnect({ host: "127.0.0.1", port: proxyPort });
    await once(socket, "connect");
    for (let offset = 0; offset < hello.length; offset += 50) {
      const piece = hello.subarray(offset, offset + 50);
      await new Promise<void>((resolve) => socket.write(piece, () => resolve()));
    }
    // The backend answers the replayed ClientHello with a ServerHello record.
    const [reply] = (await once(socket, "data")) as [Buffer];
    assert.equal(reply[0], 22);
    socket.destroy();
  });

  test("no server name: the default route, or a close with unrecognized_name", async () => {
    assert.equal((await fetchOverTls(proxyPort, certificate, undefined)).body, "a false false");
    const hello = await recordClientHello({});
    assert.deepEqual([...(await closedWith(strictPort, hello))], [21, 3, 3, 0, 2, 2, 112]);
  });

  test("an unknown name gets unrecognized_name, a dead backend internal_error", async () => {
    const unknown = await recordClientHello({ servername: "nowhere.test" });
    assert.deepEqual([...(await closedWith(proxyPort, unknown))], [21, 3, 3, 0, 2, 2, 112]);
    const dead = await recordClientHello({ servername: "c.test" });
    assert.deepEqual([...(await closedWith(proxyPort, dead))], [21, 3, 3, 0, 2, 2, 80]);
  });

  test("a client that never finishes its ClientHello is closed", async () => {
    const impatient = new TlsSniProxy({ router: loopbackRouter({}), helloTimeoutMs: 100 });
    const { port } = await impatient.listen(0, "127.0.0.1");
    try {
      const hello = await recordClientHello({ servername: "a.test" });
      assert.equal((await closedWith(port, hello.subarray(0, 20))).length, 0);
    } finally {
      await impatient.close();
    }
  });

  test("malformed and oversize ClientHellos are closed; the proxy keeps serving", async () => {
    const http = Buffer.from("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    assert.deepEqual([...(await closedWith(proxyPort, http))], [21, 3, 3, 0, 2, 2, 50]);
    const hello = await recordClientHello({ servername: "a.test" });
    const broken = Buffer.from(hello);
    const cipherListAt = 5 + 4 + 2 + 32 + 1 + broken[5 + 4 + 2 + 32]!;
    broken.writeUInt16BE(0xfffe, cipherListAt); // the cipher list now runs past the end
    assert.equal((await closedWith(proxyPort, broken))[0], 21);
    // A record header announcing a ClientHello larger than the 4 KiB limit.
    const oversize = Buffer.from([22, 3, 1, 0x40, 0, 1, 0, 0x3f, 0xfc]);
    assert.equal((await closedWith(proxyPort, oversize))[0], 21);
    assert.equal((await fetchOverTls(proxyPort, certificate, "a.test")).body, "a false a.test");
  });
});
