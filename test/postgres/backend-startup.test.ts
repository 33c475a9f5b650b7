// The backend's startup messages go to the client unchanged except for
// BackendKeyData, however the bytes are split into chunks.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BackendStartup } from "../../src/proxy/postgres/backend-startup.ts";
import { type BackendKey, CancelKeyRegistry } from "../../src/proxy/postgres/cancel-keys.ts";
import { SqlStateError } from "../../src/proxy/postgres/sql-state-error.ts";
import { splitAt } from "../support/chunks.ts";

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

function keyData(processId: number, secretKey: Buffer): Buffer {
  const body = Buffer.alloc(4 + secretKey.length);
  body.writeInt32BE(processId, 0);
  secretKey.copy(body, 4);
  return message("K", body);
}

const authOk = message("R", Buffer.from([0, 0, 0, 0]));
const parameterStatus = message("S", Buffer.from("server_version\x0015.20\x00"));
const ready = message("Z", Buffer.from("I"));
const afterReady = message("T", Buffer.alloc(6));

test("property: only the key changes, whatever the chunking and key length", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.uint8Array({ minLength: 4, maxLength: 256 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (processId, secret, cuts) => {
        const backendKey = Buffer.from(secret);
        const stream = Buffer.concat([
          authOk,
          parameterStatus,
          keyData(processId, backendKey),
          ready,
          afterReady,
        ]);
        const registry = new CancelKeyRegistry<string>();
        let issued: BackendKey | undefined;
        const startup = new BackendStartup((key) => {
          issued = registry.issue(key, "target");
          return issued;
        });
        const out: Buffer[] = [];
        let finished = false;
        // A socket never delivers an empty chunk.
        for (const piece of splitAt(stream, cuts).filter((p) => p.length > 0)) {
          const progress = startup.push(piece);
          out.push(...progress.forward);
          finished = progress.finished;
        }
        assert.ok(finished);
        const clientKey = issued!;
        assert.equal(clientKey.processId, processId);
        assert.equal(clientKey.secretKey.length, backendKey.length);
        const expected = Buffer.concat([
          authOk,
          parameterStatus,
          keyData(processId, clientKey.secretKey),
          ready,
          afterReady,
        ]);
        assert.deepEqual(Buffer.concat(out), expected);
        assert.deepEqual(registry.find(clientKey)?.backendKey, {
          processId,
          secretKey: backendKey,
        });
      },
    ),
  );
});

test("an ErrorResponse ends the startup without a key", () => {
  const startup = new BackendStartup(() => assert.fail("no key expected"));
  const error = message("E", Buffer.from("SFATAL\0C28P01\0Mpassword authentication failed\0\0"));
  const progress = startup.push(error);
  assert.equal(progress.finished, true);
  assert.deepEqual(Buffer.concat(progress.forward), error);
});

test("a malformed backend message is a 08P01, not a crash", () => {
  const startup = new BackendStartup((key) => key);
  const bad = Buffer.from([0x52, 0, 0, 0, 1]);
  assert.throws(
    () => startup.push(bad),
    (error) => error instanceof SqlStateError && error.sqlState === "08P01",
  );
  const shortKey = new BackendStartup((key) => key);
  assert.throws(() => shortKey.push(keyData(1, Buffer.alloc(2))), SqlStateError);
});

test("issued keys are unique, random and released", () => {
  const registry = new CancelKeyRegistry<number>();
  const backendKey = { processId: 42, secretKey: Buffer.from([9, 9, 9, 9]) };
  const first = registry.issue(backendKey, 1);
  const second = registry.issue(backendKey, 2);
  assert.notDeepEqual(first.secretKey, second.secretKey);
  assert.equal(registry.find(second)?.target, 2);
  registry.release(first);
  assert.equal(registry.find(first), undefined);
  assert.equal(registry.size, 1);
});
