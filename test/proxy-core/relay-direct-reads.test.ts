import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { DirectReads, withDirectReads } from "../../src/proxy/core/direct-reads.ts";
import { relay } from "../../src/proxy/core/relay.ts";
import { listen, type RelayedOptions, relayed } from "./relayed.ts";

function directConnect(port: number, allowHalfOpen = false): Socket {
  return withDirectReads((onread) => connect({ host: "127.0.0.1", port, allowHalfOpen, onread }));
}

function sha(data: Buffer | Buffer[]): string {
  const hash = createHash("sha256");
  for (const piece of Array.isArray(data) ? data : [data]) hash.update(piece);
  return hash.digest("hex");
}

/** Counts keep() calls: the reads whose view a partial write still held. */
function countKeeps(socket: Socket): { readonly count: number; readonly first: Promise<void> } {
  const reads = DirectReads.of(socket) as DirectReads;
  const keep = reads.keep.bind(reads);
  const first = Promise.withResolvers<void>();
  const counter = { count: 0, first: first.promise };
  reads.keep = () => {
    counter.count += 1;
    first.resolve();
    keep();
  };
  return counter;
}

/** A client connected through a proxy whose backend socket has direct reads. */
function relayedDirect(onBackend: (socket: Socket) => void, options: RelayedOptions = {}) {
  return relayed(onBackend, { ...options, dialBackend: directConnect });
}

/** Reads everything `socket` sends, stopping for `stallMs` after every `every` bytes. */
async function readSlowly(socket: Socket, every: number, stallMs: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  let sinceStall = 0;
  for await (const chunk of socket) {
    chunks.push(chunk as Buffer);
    sinceStall += (chunk as Buffer).length;
    if (sinceStall >= every) {
      sinceStall = 0;
      await new Promise((resolve) => setTimeout(resolve, stallMs));
    }
  }
  return chunks;
}

test("a slow client gets every byte of a direct-read backend, in order, though writes queue", async () => {
  const payload = randomBytes(24 << 20);
  await using pair = await relayedDirect((socket) => socket.end(payload));
  const keeps = countKeeps((await pair.proxied).backend);
  const received = await readSlowly(pair.client, 4 << 20, 30);
  assert.equal(Buffer.concat(received).length, payload.length);
  assert.equal(sha(received), sha(payload));
  // The partial-write path was taken, so the buffer rotation was exercised.
  assert.ok(keeps.count > 0, "no write was left in part to the kernel");
  assert.deepEqual(await pair.totals, { toClient: payload.length, toBackend: 0, mover: "process" });
});

test("small reads while the client stalls: queued and partly written views are never overwritten", async () => {
  // Pieces trickle in, so reads are small and writes left in part stay below
  // the high-water mark: reading goes on while they are pending.
  const pieces = Array.from({ length: 16_000 }, (_, index) =>
    randomBytes(1 + ((index * 7919) % 2000)),
  );
  await using pair = await relayedDirect((socket) => {
    let index = 0;
    const next = (): void => {
      if (index === pieces.length) socket.end();
      else {
        socket.write(pieces[index++] as Buffer);
        setImmediate(next);
      }
    };
    next();
  });
  const keeps = countKeeps((await pair.proxied).backend);
  // The client reads nothing until a write is left in part, then a little longer.
  pair.client.pause();
  await keeps.first;
  await new Promise((resolve) => setTimeout(resolve, 50));
  const received = await readSlowly(pair.client, 1 << 20, 0);
  assert.equal(sha(received), sha(pieces));
  assert.ok(keeps.count > 0, "no write was left in part to the kernel");
});

test("any chunking of the backend's bytes reaches the client intact", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: 3 }),
      async (sizes, stallMs) => {
        const pieces = sizes.map((size) => randomBytes(size));
        await using pair = await relayedDirect((socket) => {
          let index = 0;
          const next = (): void => {
            if (index === pieces.length) {
              socket.end();
              return;
            }
            socket.write(pieces[index++] as Buffer, () => setImmediate(next));
          };
          next();
        });
        const received = await readSlowly(pair.client, 64 << 10, stallMs);
        assert.equal(sha(received), sha(pieces));
      },
    ),
    { numRuns: 25 },
  );
});

test("before a relay takes over, a direct-read socket reads as a stream: data, pause, end", async () => {
  const server = createServer((socket) => {
    socket.write("first");
    setTimeout(() => socket.end("second"), 20);
  });
  const port = await listen(server);
  try {
    const socket = directConnect(port);
    const chunks: string[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk.toString()));
    await once(socket, "data");
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(chunks, ["first"]);
    socket.resume();
    await once(socket, "end");
    assert.equal(chunks.join(""), "firstsecond");
    socket.destroy();
  } finally {
    server.close();
  }
});

test("bytes the stream held before the relay reach the client before later reads", async () => {
  const later = Promise.withResolvers<void>();
  const backendServer = createServer((socket) => {
    socket.write("held-");
    void later.promise.then(() => socket.end("direct"));
  });
  const backendPort = await listen(backendServer);
  const proxy = createServer((client) => {
    const backend = directConnect(backendPort);
    // An adapter reads nothing of the first bytes; they stay in the stream, paused.
    backend.pause();
    backend.once("readable", () => {
      later.resolve();
      setTimeout(() => void relay(client, backend), 20);
    });
  });
  const client = connect({ host: "127.0.0.1", port: await listen(proxy) });
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of client) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), "held-direct");
  } finally {
    client.destroy();
    proxy.close();
    backendServer.close();
  }
});

test("half-close through a direct-read backend: the backend's end reaches the client", async () => {
  await using pair = await relayedDirect(
    (socket) => {
      socket.resume();
      socket.end("bye");
      socket.on("end", () => socket.destroy());
    },
    { halfOpen: true },
  );
  const chunks: Buffer[] = [];
  pair.client.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(pair.client, "end");
  assert.equal(Buffer.concat(chunks).toString(), "bye");
  pair.client.end("after");
  assert.deepEqual(await pair.totals, { toClient: 3, toBackend: 5, mover: "process" });
});

test("a rewriter on a direct-read source keeps bytes that later reads do not overwrite", async () => {
  // Both proxy sockets are dialed with direct reads; the "client" side carries the rewriter.
  const received: Buffer[] = [];
  const done = Promise.withResolvers<void>();
  const backendServer = createServer((socket) => {
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("end", () => {
      socket.end();
      done.resolve();
    });
  });
  const payload = randomBytes(2 << 20);
  const source = createServer((socket) => socket.end(payload));
  const [backendPort, sourcePort] = [await listen(backendServer), await listen(source)];
  try {
    // Holds everything back until the end: the rewriter keeps each chunk it is given.
    const heldChunks: Buffer[] = [];
    const client = directConnect(sourcePort);
    const backend = directConnect(backendPort);
    client.on("end", () => backend.write(Buffer.concat(heldChunks)));
    const totals = relay(client, backend, {
      rewriteToBackend: (chunk) => {
        heldChunks.push(chunk);
        return Buffer.alloc(0);
      },
    });
    await done.promise;
    await totals;
    assert.equal(sha(received), sha(payload));
  } finally {
    backendServer.close();
    source.close();
  }
});

test("an error on a direct-read backend destroys both sides", async () => {
  await using pair = await relayedDirect((socket) => socket.resetAndDestroy());
  await Promise.all([once(pair.client, "close"), pair.totals]);
  assert.ok((await pair.proxied).backend.destroyed);
});

test("the read buffer starts small, grows when a read fills it, and shrinks after small reads", () => {
  const reads = new DirectReads();
  reads.takeOver(() => {});
  const { buffer, callback } = reads.onread as {
    buffer: () => Buffer;
    callback: (length: number, buffer: Buffer) => boolean;
  };
  const first = buffer();
  assert.equal(first.length, 8 << 10);
  assert.equal(buffer(), first, "the same buffer while its size holds");
  callback(first.length, first); // a read that fills it: more may be waiting
  const large = buffer();
  assert.equal(large.length, 64 << 10);
  callback(10_000, large); // a middling read keeps the size
  assert.equal(buffer(), large);
  callback(100, large); // a small read: one large result does not stay resident
  assert.equal(buffer().length, 8 << 10);
});
