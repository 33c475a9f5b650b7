import assert from "node:assert/strict";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { connect, createServer } from "node:tls";
import { makeCertificate } from "./certificates.ts";

test("a made certificate is trusted for each of its names and removed on dispose", async () => {
  const certificate = makeCertificate(["a.test", "b.test"]);
  const server = createServer({ cert: certificate.cert, key: certificate.key }, (socket) =>
    socket.end("hello"),
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  try {
    for (const servername of ["a.test", "b.test"]) {
      const socket = connect({ host: "127.0.0.1", port, servername, ca: certificate.cert });
      await once(socket, "secureConnect");
      assert.equal(socket.authorized, true);
      const [data] = (await once(socket, "data")) as [Buffer];
      assert.equal(data.toString(), "hello");
      socket.destroy();
    }
  } finally {
    server.close();
    certificate.dispose();
  }
  assert.equal(existsSync(certificate.certPath), false);
});
