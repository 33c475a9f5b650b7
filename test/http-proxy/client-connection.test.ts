// What the proxy does with a client's connection, read on the wire:
// pipelined requests, Expect: 100-continue, HTTP/1.0 clients, the framing a
// client gets for each kind of backend body, request forms it refuses, the
// Date header, its deadlines, and a drain that lets requests in flight end.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { parseRaw, rawExchange, startBackend, startProxy } from "./harness.ts";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A backend that answers with the request line and body it got, with a Content-Length. */
const echo = await startBackend((req, res) => {
  let body = "";
  req.on("data", (chunk) => {
    body += chunk;
  });
  req.on("end", () => res.end(`${req.method} ${req.url} ${body}`));
  // A request the proxy gives up (a client too slow with its body) just ends here.
  req.on("error", () => res.destroy());
});
cleanups.push(() => echo.close());

/** A backend that sends `reply` as written to every request, then closes. */
async function rawBackend(reply: string): Promise<string> {
  const server = createServer((socket: Socket) => {
    socket.on("error", () => {});
    socket.once("data", () => socket.end(reply));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => void server.close());
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A raw client connection that collects what the proxy sends. */
async function rawClient(port: number) {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let received = "";
  let closed = false;
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  socket.on("close", () => {
    closed = true;
  });
  await once(socket, "connect");
  cleanups.push(() => void socket.destroy());
  return {
    socket,
    get received() {
      return received;
    },
    get closed() {
      return closed;
    },
    /** Waits until what was received matches `pattern` (5 s at most). */
    async waitFor(pattern: RegExp): Promise<string> {
      for (let waited = 0; !pattern.test(received); waited += 10) {
        assert.ok(waited < 5000, `waiting for ${pattern} in ${JSON.stringify(received)}`);
        await sleep(10);
      }
      return received;
    },
    async waitForClose(): Promise<void> {
      for (let waited = 0; !closed; waited += 10) {
        assert.ok(waited < 5000, "the proxy closes the connection");
        await sleep(10);
      }
    },
  };
}

/** Status codes, in order, of the responses in `text` (bodies here never hold a status line). */
function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}

test("pipelined requests are answered in order on one connection", async () => {
  const proxy = await startProxy({ "app.test": echo.endpoint });
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  const requests = Array.from(
    { length: 3 },
    (_, i) => `GET /r${i} HTTP/1.1\r\nHost: app.test\r\n\r\n`,
  ).join("");
  client.socket.write(requests);
  const text = await client.waitFor(/GET \/r2 $/);
  assert.deepEqual(
    [...text.matchAll(/GET \/r(\d) /g)].map((m) => m[1]),
    ["0", "1", "2"],
  );
  // A body with its own Content-Length, then a request right behind it.
  client.socket.write(
    "POST /p HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: app.test\r\n\r\n",
  );
  await client.waitFor(/GET \/after $/);
  assert.match(client.received, /POST \/p hello/);
  assert.equal(client.closed, false);
});

test("many requests pipelined in one write are all answered, in order", async () => {
  const proxy = await startProxy({ "app.test": echo.endpoint });
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  const count = 400; // more than the proxy keeps queued at once: reading pauses and resumes
  let text = "";
  for (let i = 0; i < count; i++) {
    text += `GET /n${i}?${"x".repeat(100)} HTTP/1.1\r\nHost: app.test\r\n\r\n`;
  }
  client.socket.write(text);
  const received = await client.waitFor(new RegExp(`GET /n${count - 1}\\?`));
  const order = [...received.matchAll(/GET \/n(\d+)\?/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    order,
    Array.from({ length: count }, (_, i) => i),
  );
});

test("Expect: 100-continue gets 100 Continue once the request is routed, then the answer", async () => {
  const proxy = await startProxy({ "app.test": echo.endpoint });
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write(
    "PUT /up HTTP/1.1\r\nHost: app.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
  );
  await client.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
  client.socket.write("data");
  await client.waitFor(/PUT \/up data$/);
  // A request refused before routing never invites its body.
  const refused = await rawExchange(
    proxy.port,
    "PUT / HTTP/1.1\r\nHost: nobody.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
  );
  assert.equal(refused.status, 404);
  assert.doesNotMatch(refused.head, /100 Continue/);
});

test("an expectation other than 100-continue is 417", async () => {
  const proxy = await startProxy({ "app.test": echo.endpoint });
  cleanups.push(() => proxy.close());
  const answer = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: app.test\r\nExpect: something-else\r\n\r\n",
  );
  assert.equal(answer.status, 417);
});

test("an HTTP/1.0 client gets a close-delimited body for a chunked response, and keep-alive when it asks and the length is known", async () => {
  const chunked = await rawBackend(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
  );
  const proxy = await startProxy({ "chunked.test": chunked, "app.test": echo.endpoint });
  cleanups.push(() => proxy.close());
  const old = await rawExchange(proxy.port, "GET / HTTP/1.0\r\nHost: chunked.test\r\n\r\n");
  assert.equal(old.status, 200);
  assert.equal(old.body, "hello world");
  assert.doesNotMatch(old.head, /transfer-encoding/i);
  assert.match(old.head, /^connection: close$/im);

  const client = await rawClient(proxy.port);
  client.socket.write("GET /one HTTP/1.0\r\nHost: app.test\r\nConnection: keep-alive\r\n\r\n");
  await client.waitFor(/GET \/one $/);
  assert.match(client.received, /^connection: keep-alive$/im);
  client.socket.write("GET /two HTTP/1.0\r\nHost: app.test\r\n\r\n");
  await client.waitFor(/GET \/two $/);
  // Without keep-alive, HTTP/1.0 closes after the answer.
  await client.waitForClose();
});

test("an HTTP/1.1 client gets a close-delimited backend body chunked, and keeps its connection", async () => {
  const closeDelimited = await rawBackend(
    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
  );
  const proxy = await startProxy({ "close.test": closeDelimited, "app.test": echo.endpoint });
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write("GET / HTTP/1.1\r\nHost: close.test\r\n\r\n");
  await client.waitFor(/\r\n0\r\n\r\n$/);
  const answer = parseRaw(client.received);
  assert.match(answer.head, /^transfer-encoding: chunked$/im);
  assert.equal(answer.body, "d\r\nuntil the end\r\n0\r\n\r\n");
  client.socket.write("GET /next HTTP/1.1\r\nHost: app.test\r\n\r\n");
  await client.waitFor(/GET \/next $/);
});

test("CONNECT is 501, an HTTP version other than 1.x is 505, empty lines before a request are skipped", async () => {
  const proxy = await startProxy({ "app.test": echo.endpoint });
  cleanups.push(() => proxy.close());
  const tunnel = await rawExchange(
    proxy.port,
    "CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n",
  );
  assert.equal(tunnel.status, 501);
  const two = await rawExchange(proxy.port, "GET / HTTP/2.0\r\nHost: app.test\r\n\r\n");
  assert.equal(two.status, 505);
  const padded = await rawExchange(
    proxy.port,
    "\r\n\r\nGET /padded HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(padded.status, 200);
  assert.equal(padded.body, "GET /padded ");
});

test("a response without a Date gains one; a backend's own Date is kept, once", async () => {
  const undated = await rawBackend("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  const dated = await rawBackend(
    "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 2\r\n\r\nok",
  );
  const proxy = await startProxy({ "undated.test": undated, "dated.test": dated });
  cleanups.push(() => proxy.close());
  const ask = (host: string) =>
    rawExchange(proxy.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const added = await ask("undated.test");
  const date = /^date: (.+)$/im.exec(added.head)?.[1];
  assert.ok(date !== undefined && !Number.isNaN(Date.parse(date)), added.head);
  const kept = await ask("dated.test");
  assert.deepEqual(
    [...kept.head.matchAll(/^date: (.+)$/gim)].map((m) => m[1]),
    ["Sun, 06 Nov 1994 08:49:37 GMT"],
  );
});

test("an idle keep-alive connection is closed after keepAliveTimeoutMs", async () => {
  const proxy = await startProxy(
    { "app.test": echo.endpoint },
    { limits: { keepAliveTimeoutMs: 200 } },
  );
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write("GET /once HTTP/1.1\r\nHost: app.test\r\n\r\n");
  await client.waitFor(/GET \/once $/);
  await client.waitForClose();
  assert.deepEqual(statuses(client.received), [200]);
});

test("a body that does not arrive within requestTimeoutMs is 408 and does not feed the breaker", async () => {
  const proxy = await startProxy(
    { "app.test": echo.endpoint },
    { limits: { requestTimeoutMs: 300, headersTimeoutMs: 10_000 } },
  );
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write("POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 10\r\n\r\nabc");
  await client.waitForClose();
  assert.deepEqual(statuses(client.received), [408]);
  const errors = await proxy.proxy.metrics.errors.get();
  assert.ok(errors.values.some((v) => v.labels.reason === "client_408"));
  // The backend stays in service.
  const after = await rawExchange(
    proxy.port,
    "GET /still HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
  );
  assert.equal(after.status, 200);
});

test("close() closes idle connections at once and lets a request in flight finish with Connection: close", async () => {
  let release: () => void = () => {};
  const slow = await startBackend((_req, res) => {
    release = () => res.end("done");
  });
  cleanups.push(() => slow.close());
  const proxy = await startProxy({ "slow.test": slow.endpoint, "app.test": echo.endpoint });
  const idle = await rawClient(proxy.port);
  idle.socket.write("GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
  await idle.waitFor(/GET \/ $/);
  const busy = await rawClient(proxy.port);
  busy.socket.write("GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n");
  for (let waited = 0; slow.connections() === 0; waited += 10) {
    assert.ok(waited < 5000, "the slow request reached its backend");
    await sleep(10);
  }
  let closed = false;
  const closing = proxy.close().then(() => {
    closed = true;
  });
  await idle.waitForClose();
  assert.equal(busy.closed, false);
  assert.equal(closed, false);
  release();
  await busy.waitForClose();
  const answer = parseRaw(busy.received);
  assert.equal(answer.status, 200);
  assert.equal(answer.body, "done");
  assert.match(answer.head, /^connection: close$/im);
  await closing;
});

test("idleTimeoutMs cuts a connection with no traffic either way; 0 never does", async () => {
  const silent = await startBackend(() => {}); // never answers
  cleanups.push(() => silent.close());
  const cutting = await startProxy(
    { "silent.test": silent.endpoint },
    { limits: { idleTimeoutMs: 300, backendResponseTimeoutMs: 60_000 } },
  );
  cleanups.push(() => cutting.close());
  const waiting = await rawClient(cutting.port);
  waiting.socket.write("GET / HTTP/1.1\r\nHost: silent.test\r\n\r\n");
  await waiting.waitForClose();
  assert.equal(waiting.received, "");

  const keeping = await startProxy(
    { "app.test": echo.endpoint },
    { limits: { idleTimeoutMs: 0, keepAliveTimeoutMs: 60_000 } },
  );
  cleanups.push(() => keeping.close());
  const idle = await rawClient(keeping.port);
  idle.socket.write("GET /first HTTP/1.1\r\nHost: app.test\r\n\r\n");
  await idle.waitFor(/GET \/first $/);
  await sleep(300);
  assert.equal(idle.closed, false);
  idle.socket.write("GET /second HTTP/1.1\r\nHost: app.test\r\n\r\n");
  await idle.waitFor(/GET \/second $/);
});

test("a keep-alive answer says how long the connection waits for the next request", async () => {
  const proxy = await startProxy(
    { "app.test": echo.endpoint },
    { limits: { keepAliveTimeoutMs: 7000 } },
  );
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write("GET / HTTP/1.1\r\nHost: app.test\r\n\r\n");
  await client.waitFor(/GET \/ $/);
  assert.match(client.received, /^keep-alive: timeout=7$/im);
  const last = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n",
  );
  assert.doesNotMatch(last.head, /^keep-alive:/im);
});

test("a pipelined body that overflows the queue is read to its end once its turn comes", async () => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const counting = await startBackend((req, res) => {
    let bytes = 0;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    req.on("end", async () => {
      if (req.url === "/held") await held;
      res.end(`${req.url} ${bytes}`);
    });
  });
  cleanups.push(() => counting.close());
  const proxy = await startProxy({ "app.test": counting.endpoint });
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write("GET /held HTTP/1.1\r\nHost: app.test\r\n\r\n");
  // More of the next request's body than the proxy queues behind a request: reading pauses.
  const size = 100_000;
  client.socket.write(
    Buffer.concat([
      Buffer.from(`POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: ${size}\r\n\r\n`),
      Buffer.alloc(40_000, 0x61),
    ]),
  );
  await sleep(200);
  release();
  await client.waitFor(/\/held 0/);
  client.socket.write(Buffer.alloc(size - 40_000, 0x62));
  await client.waitFor(/\/up 100000$/);
  assert.deepEqual(statuses(client.received), [200, 200]);
});

test("a response that streams slowly but steadily is not cut by idleTimeoutMs", async () => {
  const streaming = await startBackend((_req, res) => {
    let sent = 0;
    const timer = setInterval(() => {
      res.write(`event ${sent}\n`);
      if (++sent === 25) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
    res.on("close", () => clearInterval(timer));
  });
  cleanups.push(() => streaming.close());
  const proxy = await startProxy(
    { "stream.test": streaming.endpoint },
    { limits: { idleTimeoutMs: 1000 } },
  );
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write("GET / HTTP/1.1\r\nHost: stream.test\r\n\r\n");
  await client.waitFor(/\r\n0\r\n\r\n$/);
  assert.match(client.received, /event 24\n/);
});

test("empty lines after a body leave the connection idle: it closes quietly at keepAliveTimeoutMs", async () => {
  const proxy = await startProxy(
    { "app.test": echo.endpoint },
    { limits: { keepAliveTimeoutMs: 300, headersTimeoutMs: 30_000 } },
  );
  cleanups.push(() => proxy.close());
  const client = await rawClient(proxy.port);
  client.socket.write("POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2\r\n\r\nhi\r\n");
  await client.waitFor(/POST \/ hi$/);
  await client.waitForClose();
  assert.deepEqual(statuses(client.received), [200]);
});

test("header bytes above 0x7f reach the backend exactly as sent", async () => {
  let received = Buffer.alloc(0);
  const server = createServer((socket: Socket) => {
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.includes("\r\n\r\n")) socket.end("HTTP/1.1 204 No Content\r\n\r\n");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => void server.close());
  const proxy = await startProxy({
    "app.test": `127.0.0.1:${(server.address() as AddressInfo).port}`,
  });
  cleanups.push(() => proxy.close());
  const name = Buffer.from([0x68, 0xc3, 0xa9, 0x6c, 0x6c, 0x6f]); // "héllo" in UTF-8
  const answer = await rawExchange(
    proxy.port,
    Buffer.concat([
      Buffer.from("GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\nX-Name: "),
      name,
      Buffer.from("\r\n\r\n"),
    ]),
  );
  assert.equal(answer.status, 204);
  assert.ok(received.includes(Buffer.concat([Buffer.from("X-Name: "), name, Buffer.from("\r\n")])));
});

test("a refused upgrade from a client that keeps its end open is closed, and close() resolves", async () => {
  const proxy = await startProxy({ "app.test": echo.endpoint });
  // The client never ends its side: only the proxy can close this connection.
  const socket = connect({ port: proxy.port, host: "127.0.0.1", allowHalfOpen: true });
  socket.on("error", () => {});
  cleanups.push(() => void socket.destroy());
  let received = "";
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString("latin1");
  });
  await once(socket, "connect");
  socket.write(
    "GET /ws HTTP/1.1\r\nHost: nobody.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  await once(socket, "end");
  assert.deepEqual(statuses(received), [404]);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    proxy.close().then(() => "closed"),
    new Promise((resolve) => {
      timer = setTimeout(() => resolve("still open"), 5000);
    }),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, "closed");
});

test("close() called twice resolves both times once the last answer is out", async () => {
  let release: (() => void) | undefined;
  const slow = await startBackend((_req, res) => {
    release = () => res.end("done");
  });
  cleanups.push(() => slow.close());
  const proxy = await startProxy({ "slow.test": slow.endpoint });
  const client = await rawClient(proxy.port);
  client.socket.write("GET / HTTP/1.1\r\nHost: slow.test\r\n\r\n");
  // The backend's handler has the request (a connection alone may not have it yet).
  for (let waited = 0; release === undefined; waited += 10) {
    assert.ok(waited < 5000, "the request reached its backend");
    await sleep(10);
  }
  const first = proxy.close();
  const second = proxy.close();
  release!();
  await Promise.all([first, second]);
  await client.waitForClose();
  assert.deepEqual(statuses(client.received), [200]);
});

test("close(drainTimeoutMs) cuts a response that streams on past the deadline", async () => {
  const endless = await startBackend((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const timer = setInterval(() => res.write("data: tick\n\n"), 50);
    res.on("close", () => clearInterval(timer));
  });
  cleanups.push(() => endless.close());
  const proxy = await startProxy({ "events.test": endless.endpoint });
  const client = await rawClient(proxy.port);
  client.socket.write("GET /events HTTP/1.1\r\nHost: events.test\r\n\r\n");
  await client.waitFor(/data: tick/);
  // A close() without a deadline waits; a later one with a deadline cuts, and both resolve.
  const waiting = proxy.proxy.close();
  await sleep(200);
  assert.equal(client.closed, false);
  const cutting = proxy.proxy.close(300);
  await client.waitForClose();
  await Promise.all([waiting, cutting]);
  assert.match(client.received, /^HTTP\/1\.1 200 /);
});
