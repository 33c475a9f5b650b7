// Random, truncated and mutated startup packets sent to a live proxy: each
// gets an ErrorResponse in PostgreSQL's terms or a close, the proxy never
// crashes and keeps serving real clients.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import fc from "fast-check";
import { makeCertificate } from "../support/certificates.ts";
import {
  MAIN_SERVER,
  proxyClient,
  proxyForTests,
  rawExchange,
  rawSocket,
  requestPacket,
  startProxy,
  startupMessage,
} from "./harness.ts";

const ACCEPTED_CODES = new Set(["08P01", "0A000", "28000", "3D000"]);
// Only "postgres" routes anywhere, so almost every valid packet ends in 3D000.
const proxy = proxyForTests({ postgres: MAIN_SERVER }, { startupTimeoutMs: 2000 });

/** Checks an answer: optional N bytes (SSL, GSS refused), then nothing or one whole ErrorResponse. */
function assertRefusal(answer: Buffer): void {
  let offset = 0;
  while (offset < 2 && answer[offset] === 0x4e) offset += 1;
  const rest = answer.subarray(offset);
  if (rest.length === 0) return;
  assert.equal(String.fromCharCode(rest[0]!), "E", `unexpected answer ${rest.toString("hex")}`);
  assert.equal(rest.readInt32BE(1) + 1, rest.length, "one whole ErrorResponse");
  const code = rest
    .subarray(5)
    .toString("latin1")
    .split("\0")
    .find((f) => f.startsWith("C"));
  assert.ok(code && ACCEPTED_CODES.has(code.slice(1)), `unexpected SQLSTATE ${code}`);
}

async function assertStillServing(port = proxy.port): Promise<void> {
  const client = proxyClient(port, "postgres");
  await client.connect();
  try {
    const { rows } = await client.query("SELECT 1 AS one");
    assert.equal(rows[0].one, 1);
  } finally {
    await client.end();
  }
}

const validPacket = fc.oneof(
  fc.constant(startupMessage({ user: "postgres", database: "elsewhere" })),
  fc.constant(startupMessage({ user: "x", database: "y", options: "-c a=b" }, 2)),
  fc.constant(requestPacket(80877103)),
  fc.constant(requestPacket(80877104)),
  fc.constant(Buffer.from("000000100004d2162a2a2a2a12345678", "hex").subarray(0, 16)),
);

test("property: random bytes get a PostgreSQL error or a close", async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
      assertRefusal(await rawExchange(proxy.port, Buffer.from(bytes), { end: true }));
    }),
    { numRuns: 60 },
  );
  await assertStillServing();
});

test("property: truncated and mutated startup packets get a PostgreSQL error or a close", async () => {
  await fc.assert(
    fc.asyncProperty(
      validPacket,
      fc.nat(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      async (packet, cut, flips) => {
        const bytes = Buffer.from(packet.subarray(0, 1 + (cut % packet.length)));
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        assertRefusal(await rawExchange(proxy.port, bytes, { end: true }));
      },
    ),
    { numRuns: 80 },
  );
  await assertStillServing();
});

test("property: a valid request followed by garbage never crashes the proxy", async () => {
  await fc.assert(
    fc.asyncProperty(validPacket, fc.uint8Array({ maxLength: 64 }), async (packet, garbage) => {
      assertRefusal(await rawExchange(proxy.port, Buffer.concat([packet, garbage]), { end: true }));
    }),
    { numRuns: 40 },
  );
  await assertStillServing();
});

test("property: with TLS configured, garbage and broken ClientHellos never take the proxy down", async () => {
  const certificate = makeCertificate();
  const secure = await startProxy(
    { postgres: MAIN_SERVER },
    { tls: { cert: certificate.cert, key: certificate.key }, startupTimeoutMs: 2000 },
  );
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        async (asHandshake, bytes) => {
          // Half the cases start like a TLS record, so the direct-TLS path sees them.
          const input = Buffer.from(asHandshake ? [0x16, 0x03, 0x01, ...bytes] : [...bytes, 0]);
          await rawExchange(secure.port, input, { end: true });
        },
      ),
      { numRuns: 60 },
    );
    await assertStillServing(secure.port);
  } finally {
    await secure.close();
    certificate.dispose();
  }
});

test("a client that never finishes its startup packet is closed after the startup timeout", async () => {
  const patient = await startProxy({ postgres: MAIN_SERVER }, { startupTimeoutMs: 300 });
  try {
    // Half a packet, then silence: the proxy must hang up, not wait forever.
    const socket = rawSocket(patient.port);
    socket.write(startupMessage({ user: "postgres" }).subarray(0, 6));
    const received: Buffer[] = [];
    socket.on("data", (chunk) => received.push(chunk));
    await once(socket, "close");
    assert.equal(Buffer.concat(received).length, 0);
  } finally {
    await patient.close();
  }
});
