// The startup packet parser against examples, round trips and random,
// truncated and malformed input (fast-check).
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SqlStateError } from "../../src/proxy/postgres/sql-state-error.ts";
import {
  encodeCancelRequest,
  encodeStartupMessage,
  parseStartupPacket,
} from "../../src/proxy/postgres/startup-packet.ts";
import { requestPacket, startupMessage } from "./harness.ts";

function sqlState(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SqlStateError, `expected a SqlStateError, got ${error}`);
    return error.sqlState;
  }
  assert.fail("expected the packet to be refused");
}

test("the three request codes and a StartupMessage are told apart", () => {
  assert.deepEqual(parseStartupPacket(requestPacket(80877103)), { kind: "ssl" });
  assert.deepEqual(parseStartupPacket(requestPacket(80877104)), { kind: "gssenc" });
  const cancel = parseStartupPacket(encodeCancelRequest(1234, Buffer.from([1, 2, 3, 4])));
  assert.deepEqual(cancel, {
    kind: "cancel",
    processId: 1234,
    secretKey: Buffer.from([1, 2, 3, 4]),
  });
  const startup = parseStartupPacket(startupMessage({ user: "ann", database: "shop" }, 2));
  assert.equal(startup.kind, "startup");
  if (startup.kind === "startup") {
    assert.equal(startup.minor, 2);
    assert.deepEqual(
      [...startup.parameters],
      [
        ["user", "ann"],
        ["database", "shop"],
      ],
    );
  }
});

test("protocol 3.2 cancel keys up to 256 bytes are read whole", () => {
  const key = Buffer.alloc(256, 7);
  const cancel = parseStartupPacket(encodeCancelRequest(-5, key));
  assert.deepEqual(cancel, { kind: "cancel", processId: -5, secretKey: key });
  assert.equal(
    sqlState(() => parseStartupPacket(encodeCancelRequest(1, Buffer.alloc(257)))),
    "08P01",
  );
  assert.equal(
    sqlState(() => parseStartupPacket(encodeCancelRequest(1, Buffer.alloc(3)))),
    "08P01",
  );
});

test("malformed startup packets are refused in PostgreSQL's terms", () => {
  const noUser = startupMessage({ database: "shop" });
  assert.equal(
    sqlState(() => parseStartupPacket(noUser)),
    "28000",
  );
  const version2 = startupMessage({ user: "ann" });
  version2.writeInt32BE(2 << 16, 4);
  assert.equal(
    sqlState(() => parseStartupPacket(version2)),
    "0A000",
  );
  const unterminated = startupMessage({ user: "ann" }).subarray(0, -1);
  unterminated.writeInt32BE(unterminated.length, 0);
  assert.equal(
    sqlState(() => parseStartupPacket(unterminated)),
    "08P01",
  );
  const tooLong = Buffer.alloc(10_001);
  tooLong.writeInt32BE(10_001, 0);
  assert.equal(
    sqlState(() => parseStartupPacket(tooLong)),
    "08P01",
  );
  const badUtf8 = startupMessage({ user: "ann" });
  badUtf8[13] = 0xff;
  assert.equal(
    sqlState(() => parseStartupPacket(badUtf8)),
    "08P01",
  );
});

const parameterName = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes("\0"));
const parameterValue = fc.string({ maxLength: 40 }).filter((s) => !s.includes("\0"));

test("property: encoded StartupMessages parse back to the same parameters", () => {
  fc.assert(
    fc.property(
      fc.dictionary(parameterName, parameterValue, { maxKeys: 8 }),
      parameterValue.filter((s) => s !== ""),
      fc.integer({ min: 0, max: 2 }),
      (extra, user, minor) => {
        const parameters = new Map([
          ["user", user],
          ...Object.entries(extra).filter(([k]) => k !== "user"),
        ]);
        const packet = parseStartupPacket(encodeStartupMessage(3, minor, parameters));
        assert.equal(packet.kind, "startup");
        if (packet.kind === "startup") {
          assert.equal(packet.minor, minor);
          assert.deepEqual([...packet.parameters], [...parameters]);
        }
      },
    ),
  );
});

test("property: random bytes either parse or fail with a SqlStateError", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 8, maxLength: 300 }),
      fc.boolean(),
      (bytes, fixLength) => {
        const packet = Buffer.from(bytes);
        if (fixLength) packet.writeInt32BE(packet.length, 0);
        try {
          parseStartupPacket(packet);
        } catch (error) {
          assert.ok(error instanceof SqlStateError);
          assert.match(error.sqlState, /^[0-9A-Z]{5}$/);
        }
      },
    ),
  );
});

test("property: every truncation of a valid packet is refused, never misread", () => {
  fc.assert(
    fc.property(
      fc.dictionary(parameterName, parameterValue, { maxKeys: 4 }),
      fc.nat(),
      (extra, cut) => {
        const whole = startupMessage({ user: "ann", ...extra });
        const length = 8 + (cut % (whole.length - 8));
        const truncated = Buffer.from(whole.subarray(0, length));
        // As a client would: the announced length still says the whole size.
        assert.equal(
          sqlState(() => parseStartupPacket(truncated)),
          "08P01",
        );
      },
    ),
  );
});
