// A client that leaves during a cold start gives its place in the queue back.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer } from "node:net";
import { test } from "node:test";
import { TcpPortProxy } from "../../src/proxy/tcp/index.ts";
import { HeldAsleep } from "./held-asleep.ts";

/** An echo backend held asleep behind a TCP port proxy. */
async function echoHeldAsleep(allowHalfOpen: boolean) {
  const echo = createServer({ allowHalfOpen }, (socket) => socket.pipe(socket));
  echo.listen(0, "127.0.0.1");
  await once(echo, "listening");
  const backend = new HeldAsleep(`127.0.0.1:${(echo.address() as AddressInfo).port}`);
  return { echo, backend, proxy: new TcpPortProxy({ router: backend.router }) };
}

test("TCP proxy: a client that leaves during a cold start frees its queue place", async () => {
  const { echo, backend, proxy } = await echoHeldAsleep(false);
  try {
    const { port } = await proxy.listen(0, "127.0.0.1", "svc");
    const leaving = connect({ host: "127.0.0.1", port });
    leaving.on("error", () => {});
    await backend.wakeRequested;
    leaving.destroy();
    await backend.waiterLeft();
    // The queue holds one: the next client waits instead of being refused.
    const staying = connect({ host: "127.0.0.1", port });
    staying.on("error", () => {});
    staying.write("ping");
    backend.letWake();
    const [echoed] = (await once(staying, "data")) as [Buffer];
    assert.equal(echoed.toString(), "ping");
    staying.destroy();
  } finally {
    await proxy.close(0);
    echo.close();
  }
});

test("TCP proxy: a client that ends its side during a cold start", async () => {
  // An echo that ends its side after the client's end, as `pipe` does.
  const { echo, backend, proxy } = await echoHeldAsleep(true);
  try {
    const { port } = await proxy.listen(0, "127.0.0.1", "svc");
    // Having sent nothing, it has nothing for the backend: it leaves, and
    // the proxy closes its side too.
    const leaving = connect({ host: "127.0.0.1", port });
    leaving.on("error", () => {});
    const closed = once(leaving, "close");
    await backend.wakeRequested;
    leaving.end();
    await backend.waiterLeft();
    await closed;
    // Having sent a request first, it waits for the wake and gets the answer.
    const asking = connect({ host: "127.0.0.1", port });
    asking.on("error", () => {});
    asking.end("ping");
    let answer = "";
    asking.on("data", (chunk: Buffer) => {
      answer += chunk.toString();
    });
    const ended = once(asking, "end");
    // Time for the proxy to see the end before the backend wakes.
    await new Promise((resolve) => setTimeout(resolve, 100));
    backend.letWake();
    await ended;
    assert.equal(answer, "ping");
  } finally {
    await proxy.close(0);
    echo.close();
  }
});
