import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { promisify } from "node:util";
import fc from "fast-check";
import { ProxyMetrics } from "../../src/proxy/core/proxy-metrics.ts";
import type { ChunkRewriter, RelayTotals } from "../../src/proxy/core/relay.ts";
import { requireKernelSplice } from "../support/kernel-splice.ts";
import { type Relayed, relayed } from "./relayed.ts";

const splice = requireKernelSplice();

/** Every byte `socket` receives until its peer ends. */
async function readAll(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "end");
  return Buffer.concat(chunks);
}

/** A backend that sends back what it receives and ends when its client does. */
const echo = (socket: Socket) => {
  socket.pipe(socket);
};

test("the kernel moves the bytes both ways and the process reads none of them", async () => {
  await using relay = await relayed(echo, { splice });
  await relay.started;
  const sent = randomBytes(3 << 20);
  const echoed = readAll(relay.client);
  relay.client.end(sent);
  assert.ok((await echoed).equals(sent));
  const { client, backend } = await relay.proxied;
  assert.equal(client.bytesRead, 0);
  assert.equal(backend.bytesRead, 0);
  assert.deepEqual(await relay.totals, {
    toClient: sent.length,
    toBackend: sent.length,
    mover: "kernel",
  });
});

test("property: chunks in both directions arrive whole and in order", async () => {
  const chunkLists = fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 12 });
  await fc.assert(
    fc.asyncProperty(chunkLists, chunkLists, async (up, down) => {
      const upBytes = up.map((size) => randomBytes(size));
      const downBytes = down.map((size) => randomBytes(size));
      const received: Buffer[] = [];
      const backendDone = Promise.withResolvers<void>();
      await using relay = await relayed(
        (socket) => {
          // The backend answers in its own chunks while the client is still sending.
          socket.once("data", () => {
            for (const bytes of downBytes) socket.write(bytes);
            socket.end();
          });
          socket.on("data", (chunk: Buffer) => received.push(chunk));
          socket.on("end", () => backendDone.resolve());
        },
        { splice, halfOpen: true },
      );
      await relay.started;
      const answer = readAll(relay.client);
      for (const bytes of upBytes) relay.client.write(bytes);
      relay.client.end();
      assert.ok((await answer).equals(Buffer.concat(downBytes)));
      await backendDone.promise;
      assert.ok(Buffer.concat(received).equals(Buffer.concat(upBytes)));
      assert.deepEqual(await relay.totals, {
        toBackend: Buffer.concat(upBytes).length,
        toClient: Buffer.concat(downBytes).length,
        mover: "kernel",
      });
    }),
    { numRuns: 15 },
  );
});

test("a client's end reaches the backend after all its bytes, even a slow backend's", async () => {
  const received: Buffer[] = [];
  const ended = Promise.withResolvers<void>();
  let backend: Socket | undefined;
  await using relay = await relayed(
    (socket) => {
      backend = socket;
      socket.pause();
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      socket.on("end", () => {
        ended.resolve();
        socket.end("bye");
      });
    },
    { splice, halfOpen: true },
  );
  await relay.started;
  const sent = randomBytes(8 << 20);
  const answer = readAll(relay.client);
  relay.client.end(sent);
  // Far more than the socket buffers hold waits in the kernel while the backend reads nothing.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(received.length, 0);
  backend!.resume();
  await ended.promise;
  assert.ok(Buffer.concat(received).equals(sent));
  assert.equal((await answer).toString(), "bye");
  assert.equal((await relay.totals).mover, "kernel");
});

const abruptEnds: [string, (relay: Relayed) => Promise<void>][] = [
  ["a client that resets", async (relay) => void relay.client.resetAndDestroy()],
  [
    "the process closing the client socket (a shutdown)",
    async (relay) => {
      (await relay.proxied).client.destroy();
    },
  ],
];
for (const [name, end] of abruptEnds) {
  test(`${name} closes the backend at once`, async () => {
    const backendClosed = Promise.withResolvers<void>();
    await using relay = await relayed(
      (socket) => socket.on("close", () => backendClosed.resolve()),
      {
        splice,
      },
    );
    await relay.started;
    await end(relay);
    await backendClosed.promise;
    assert.equal((await relay.totals).mover, "kernel");
  });
}

test("once one direction has finished, the other is cut after the grace period", async () => {
  // The backend never ends its side; the client has ended its own.
  await using relay = await relayed((socket) => socket.resume(), {
    splice,
    halfOpen: true,
    graceMs: 50,
  });
  await relay.started;
  relay.client.end();
  assert.equal((await relay.totals).mover, "kernel");
  const { client, backend } = await relay.proxied;
  assert.ok(client.destroyed && backend.destroyed);
});

test("bytes that arrived before the relay are relayed by the process, in order", async () => {
  await using relay = await relayed(echo, {
    splice,
    halfOpen: true,
    beforeRelay: () => new Promise((resolve) => setTimeout(resolve, 50)),
  });
  const sent = randomBytes(100_000);
  const echoed = readAll(relay.client);
  // Written before the relay starts: they wait in the proxy's receive queue.
  relay.client.write(sent.subarray(0, 1000));
  await relay.started;
  relay.client.end(sent.subarray(1000));
  assert.ok((await echoed).equals(sent));
  const totals = await relay.totals;
  assert.equal(totals.mover, "process");
  assert.ok((await relay.proxied).client.bytesRead > 0);
});

test("what the adapter held back reaches the client before any byte of the backend", async () => {
  for (let i = 0; i < 20; i++) {
    await using relay = await relayed(
      (socket) => {
        setTimeout(() => socket.end("B"), i % 3);
      },
      { splice, thenToClient: Buffer.from("A") },
    );
    assert.equal((await readAll(relay.client)).toString(), "AB");
  }
});

test("NEXUS_KERNEL_SPLICE=off turns kernel splicing off, with the reason", async () => {
  const script = [
    'import { KernelSplice } from "./src/proxy/core/kernel-splice.ts";',
    "console.log(KernelSplice.shared() === undefined, KernelSplice.unavailableReason);",
  ].join("\n");
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ["--input-type=module", "-e", script],
    { env: { ...process.env, NEXUS_KERNEL_SPLICE: "off" } },
  );
  assert.equal(stdout.trim(), "true turned off by NEXUS_KERNEL_SPLICE=off");
});

test("with a rewriter, the client's bytes go through the process and the backend's through the kernel", async () => {
  const received: Buffer[] = [];
  await using relay = await relayed(
    (socket) => {
      socket.on("data", (chunk: Buffer) => {
        received.push(chunk);
        if (Buffer.concat(received).toString().endsWith("!")) socket.end(randomBytes(1 << 20));
      });
    },
    {
      splice,
      rewriteToBackend: (chunk) => Buffer.from(chunk.toString().toUpperCase()),
    },
  );
  await relay.started;
  const answer = readAll(relay.client);
  relay.client.write("select 1;");
  relay.client.write("kill 2!");
  assert.equal((await answer).length, 1 << 20);
  assert.equal(Buffer.concat(received).toString(), "SELECT 1;KILL 2!");
  const { backend } = await relay.proxied;
  // The process read nothing of the backend's megabyte.
  assert.equal(backend.bytesRead, 0);
  assert.deepEqual(await relay.totals, { toClient: 1 << 20, toBackend: 16, mover: "mixed" });
});

test("a backend that sent its last bytes and shut down before the relay is relayed by the process", async () => {
  await using relay = await relayed((socket) => socket.end("last words"), {
    splice,
    halfOpen: true,
    beforeRelay: () => new Promise((resolve) => setTimeout(resolve, 50)),
  });
  const answer = readAll(relay.client);
  await relay.started;
  assert.equal((await answer).toString(), "last words");
  relay.client.end();
  const totals = await relay.totals;
  assert.equal(totals.toClient, "last words".length);
});

const refusedBackendCases: [string, ChunkRewriter | undefined, RelayTotals["mover"]][] = [
  ["the client's side in the kernel", undefined, "mixed"],
  ["the client's side in the process too", (chunk) => chunk, "process"],
];
for (const [name, rewriteToBackend, mover] of refusedBackendCases) {
  test(`a backend that shuts down while held-back bytes still go out keeps its last bytes (${name})`, async () => {
    const held = randomBytes(8 << 20);
    await using relay = await relayed((socket) => setTimeout(() => socket.end("tail"), 50), {
      splice,
      halfOpen: true,
      thenToClient: held,
      rewriteToBackend,
    });
    await relay.started;
    // The client reads nothing for a while: the held-back bytes wait in the process.
    relay.client.pause();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const answer = readAll(relay.client);
    relay.client.resume();
    assert.ok((await answer).equals(Buffer.concat([held, Buffer.from("tail")])));
    relay.client.end();
    // The kernel refused the backend's side: the totals say whether it took any.
    assert.equal((await relay.totals).mover, mover);
  });
}

test("spliced connections keep the process alive once nothing else does", async () => {
  // The child proxies one connection to an echo server of its own, then closes
  // both listeners: only the spliced pair is left to keep it running.
  const script = `
    import { createServer, connect } from "node:net";
    import { once } from "node:events";
    import { relay } from "./src/proxy/core/relay.ts";
    import { KernelSplice } from "./src/proxy/core/kernel-splice.ts";
    const echo = createServer((socket) => socket.pipe(socket)).listen(0, "127.0.0.1");
    await once(echo, "listening");
    const proxy = createServer((client) => {
      const backend = connect(echo.address().port, "127.0.0.1", async () => {
        proxy.close();
        echo.close();
        const totals = await relay(client, backend, { splice: KernelSplice.shared() });
        console.log(JSON.stringify(totals));
      });
    }).listen(0, "127.0.0.1");
    await once(proxy, "listening");
    console.log(proxy.address().port);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  const socket = connect({ host: "127.0.0.1", port });
  await once(socket, "connect");
  // Long enough for a process with nothing keeping it alive to have exited.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const echoed = readAll(socket);
  socket.end("still here");
  assert.equal((await echoed).toString(), "still here");
  assert.deepEqual(JSON.parse((await lines.next()).value as string), {
    toClient: 10,
    toBackend: 10,
    mover: "kernel",
  });
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
});

test("a client that ends its side after a large upload through the process gets every byte to a slow backend", async () => {
  // The loss this guards against needed the last write to be partly taken when the client's
  // end arrived: several rounds make that moment likely.
  for (let round = 0; round < 4; round++) {
    const received: Buffer[] = [];
    const backendEnded = Promise.withResolvers<void>();
    await using relay = await relayed(
      (socket) => {
        socket.on("data", (chunk: Buffer) => {
          received.push(chunk);
          // A slow reader: the process's writes to it queue up.
          socket.pause();
          setTimeout(() => socket.resume(), 2);
        });
        socket.on("end", () => backendEnded.resolve());
      },
      { splice, rewriteToBackend: (chunk) => chunk },
    );
    await relay.started;
    const sent = randomBytes(20 << 20);
    for (let at = 0; at < sent.length; at += 100_000) {
      relay.client.write(sent.subarray(at, at + 100_000));
    }
    relay.client.end();
    await backendEnded.promise;
    assert.equal(Buffer.concat(received).length, sent.length);
    assert.ok(Buffer.concat(received).equals(sent));
    await relay.totals;
  }
});

test("a client socket closed from outside after the backend's end still closes the backend", async () => {
  const backendClosed = Promise.withResolvers<void>();
  await using relay = await relayed(
    (socket) => {
      socket.resume();
      socket.on("close", () => backendClosed.resolve());
      setTimeout(() => socket.end("bye"), 50);
    },
    { splice, halfOpen: true, graceMs: 60_000 },
  );
  await relay.started;
  assert.equal((await readAll(relay.client)).toString(), "bye");
  // The client still sends; the proxy shuts down and cuts it.
  (await relay.proxied).client.destroy();
  await backendClosed.promise;
  assert.equal((await relay.totals).mover, "kernel");
});

test("held-back bytes a client never reads do not hold the relay past the grace period", async () => {
  await using relay = await relayed((socket) => socket.end(), {
    splice,
    halfOpen: true,
    graceMs: 200,
    thenToClient: randomBytes(16 << 20),
  });
  relay.client.pause();
  await relay.started;
  const { client, backend } = await relay.proxied;
  await relay.totals;
  assert.ok(client.destroyed && backend.destroyed);
});

test("a gauge counts the connections handed to the kernel until they close", async () => {
  const metrics = new ProxyMetrics();
  const spliced = async () => (await metrics.splicedConnections.get()).values[0]?.value;
  const before = await spliced();
  {
    await using relay = await relayed((socket) => socket.resume(), { splice });
    await relay.started;
    assert.equal(await spliced(), (before ?? 0) + 1);
    relay.client.end();
    await relay.totals;
  }
  assert.equal(await spliced(), before);
});

test("property: whichever side ends first, in either mode, every byte arrives and the relay ends", async () => {
  const sizes = fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 0, maxLength: 6 });
  await fc.assert(
    fc.asyncProperty(
      sizes,
      sizes,
      fc.boolean(),
      fc.boolean(),
      fc.nat({ max: 20 }),
      async (up, down, clientFirst, throughProcess, delayMs) => {
        const upBytes = Buffer.concat(up.map((size) => randomBytes(size)));
        const downBytes = Buffer.concat(down.map((size) => randomBytes(size)));
        const backendGot = Promise.withResolvers<Buffer>();
        let backendSocket: Socket | undefined;
        await using relay = await relayed(
          (socket) => {
            backendSocket = socket;
            const chunks: Buffer[] = [];
            socket.on("data", (chunk: Buffer) => chunks.push(chunk));
            socket.on("end", () => backendGot.resolve(Buffer.concat(chunks)));
          },
          {
            splice,
            halfOpen: true,
            rewriteToBackend: throughProcess ? (chunk) => chunk : undefined,
          },
        );
        await relay.started;
        const clientGot = readAll(relay.client);
        const clientSide = async () => relay.client.end(upBytes);
        const backendSide = async () => {
          while (backendSocket === undefined)
            await new Promise((resolve) => setTimeout(resolve, 1));
          backendSocket.end(downBytes);
        };
        const [first, second] = clientFirst ? [clientSide, backendSide] : [backendSide, clientSide];
        await first();
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        await second();
        assert.ok((await backendGot.promise).equals(upBytes));
        assert.ok((await clientGot).equals(downBytes));
        const totals = await relay.totals;
        assert.deepEqual(totals, {
          toBackend: upBytes.length,
          toClient: downBytes.length,
          mover: throughProcess ? "mixed" : "kernel",
        });
      },
    ),
    { numRuns: 25 },
  );
});
