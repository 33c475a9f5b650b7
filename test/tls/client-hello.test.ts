import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { ClientHelloError, readClientHello } from "../../src/proxy/tls/index.ts";
import { recordClientHello } from "./client-hello-samples.ts";

/** Splits the handshake message inside `hello` (one record) into records of the given sizes. */
function reframe(hello: Buffer, sizes: number[]): Buffer {
  const message = hello.subarray(5);
  const records: Buffer[] = [];
  let offset = 0;
  for (const size of sizes) {
    if (offset >= message.length) break;
    const fragment = message.subarray(offset, offset + size);
    records.push(Buffer.from([22, 3, 1, fragment.length >> 8, fragment.length & 0xff]), fragment);
    offset += fragment.length;
  }
  if (offset < message.length) {
    const fragment = message.subarray(offset);
    records.push(Buffer.from([22, 3, 1, fragment.length >> 8, fragment.length & 0xff]), fragment);
  }
  return Buffer.concat(records);
}

/** A minimal ClientHello record carrying the given extensions. */
function buildHello(extensions: Buffer[]): Buffer {
  const extensionBytes = Buffer.concat(extensions);
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7), // random
    Buffer.from([0]), // session id
    Buffer.from([0, 2, 0x13, 0x01]), // one cipher suite
    Buffer.from([1, 0]), // null compression
    u16(extensionBytes.length),
    extensionBytes,
  ]);
  const message = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(message.length), message]);
}

function u16(value: number): Buffer {
  return Buffer.from([value >> 8, value & 0xff]);
}

function extension(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

function serverNameExtension(name: string): Buffer {
  const host = Buffer.from(name, "latin1");
  const entry = Buffer.concat([Buffer.from([0]), u16(host.length), host]);
  return extension(0, Buffer.concat([u16(entry.length), entry]));
}

function alpnExtension(protocols: string[]): Buffer {
  const list = Buffer.concat(
    protocols.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, "latin1")])),
  );
  return extension(16, Buffer.concat([u16(list.length), list]));
}

/** Runs the reader and reports "error" for a ClientHelloError; anything else thrown fails. */
function outcome(bytes: Uint8Array, max?: number): "incomplete" | "error" | "complete" {
  try {
    return readClientHello(bytes, max).complete ? "complete" : "incomplete";
  } catch (error) {
    assert.ok(error instanceof ClientHelloError, String(error));
    return "error";
  }
}

describe("readClientHello", () => {
  test("reads SNI and ALPN from the hellos node:tls sends", async () => {
    const tls13 = await recordClientHello({
      servername: "Mail.Example.test",
      ALPNProtocols: ["h2", "http/1.1"],
    });
    assert.deepEqual(readClientHello(tls13), {
      complete: true,
      hello: {
        serverName: "mail.example.test",
        alpnProtocols: ["h2", "http/1.1"],
        length: tls13.length,
      },
    });
    const tls12 = await recordClientHello({ maxVersion: "TLSv1.2", servername: "a.test" });
    assert.deepEqual(readClientHello(tls12), {
      complete: true,
      hello: { serverName: "a.test", alpnProtocols: [], length: tls12.length },
    });
  });

  test("every proper prefix of a hello is incomplete, never an error", async () => {
    const hello = await recordClientHello({ servername: "a.test", ALPNProtocols: ["x"] });
    for (let end = 0; end < hello.length; end += 1) {
      assert.equal(outcome(hello.subarray(0, end)), "incomplete", `prefix of ${end} bytes`);
    }
  });

  test("a hello split over many records reads the same (property)", async () => {
    const hello = await recordClientHello({ servername: "split.test", ALPNProtocols: ["h2"] });
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 40 }), (sizes) => {
        const framed = reframe(hello, sizes);
        const read = readClientHello(framed);
        assert.ok(read.complete);
        assert.equal(read.hello.serverName, "split.test");
        assert.deepEqual(read.hello.alpnProtocols, ["h2"]);
        assert.equal(read.hello.length, framed.length);
      }),
    );
  });

  test("any server name and ALPN list round-trips (property)", () => {
    const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?$/);
    const hostName = fc.array(label, { minLength: 1, maxLength: 5 }).map((l) => l.join("."));
    const protocol = fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((s) => /^[\x20-\x7e]+$/.test(s));
    fc.assert(
      fc.property(hostName, fc.array(protocol, { minLength: 1, maxLength: 6 }), (name, alpn) => {
        const hello = buildHello([serverNameExtension(name), alpnExtension(alpn)]);
        assert.deepEqual(readClientHello(hello), {
          complete: true,
          hello: { serverName: name, alpnProtocols: alpn, length: hello.length },
        });
      }),
    );
  });

  test("random bytes give a result or a ClientHelloError, never a crash (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        outcome(bytes);
      }),
      { numRuns: 2000 },
    );
    // The same, behind a valid record and handshake header.
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (body) => {
        const message = Buffer.concat([
          Buffer.from([1, 0, body.length >> 8, body.length & 0xff]),
          body,
        ]);
        outcome(Buffer.concat([Buffer.from([22, 3, 1]), u16(message.length), message]));
      }),
      { numRuns: 2000 },
    );
  });

  test("corrupted real hellos give a result or a ClientHelloError (property)", async () => {
    const hello = await recordClientHello({ servername: "a.test", ALPNProtocols: ["h2"] });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(hello.length - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat(hello.length),
        (flips, cut) => {
          const corrupt = Buffer.from(hello);
          for (const [at, value] of flips) corrupt[at] = value;
          outcome(corrupt);
          outcome(corrupt.subarray(0, cut));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("precise errors: not TLS, bad names, duplicates, oversize", () => {
    const reject = (bytes: Buffer, pattern: RegExp) =>
      assert.throws(
        () => readClientHello(bytes),
        (error: Error) => {
          assert.ok(error instanceof ClientHelloError);
          assert.match(error.message, pattern);
          return true;
        },
      );
    reject(Buffer.from("GET / HTTP/1.1\r\n"), /not a TLS handshake record/);
    reject(Buffer.from("G"), /not a TLS handshake record/);
    reject(buildHello([serverNameExtension("bad name!")]), /not a DNS host name/);
    reject(
      buildHello([serverNameExtension("a.test"), serverNameExtension("b.test")]),
      /sent twice/,
    );
    reject(buildHello([alpnExtension([])]), /empty ALPN list/);
    const large = buildHello([extension(0xffaa, Buffer.alloc(20_000))]);
    assert.throws(() => readClientHello(large), /bad record length|exceeds/);
    const big = buildHello([extension(0xffaa, Buffer.alloc(3_000))]);
    assert.throws(() => readClientHello(big, 2048), /exceeds 2048 bytes/);
    assert.equal(outcome(buildHello([])), "complete");
  });
});
