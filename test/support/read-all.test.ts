import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { test } from "node:test";
import { readAll } from "./read-all.ts";

test("readAll returns what the peer sent before its end and leaves the socket writable", async () => {
  const late = Promise.withResolvers<string>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.end("first, then the end");
    void readAll(socket).then(late.resolve);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  const client = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  try {
    assert.equal(await readAll(client), "first, then the end");
    client.end("after the peer's end");
    assert.equal(await late.promise, "after the peer's end");
  } finally {
    client.destroy();
    server.close();
  }
});
