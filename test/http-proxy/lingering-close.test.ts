// The close after a last answer: the deadline for a client that keeps its end
// open starts once the answer has gone out, so a slow reader still gets all
// of it, and a client that never closes is dropped after that.
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { closeLingering, LINGER_MS } from "../../src/proxy/http/lingering-close.ts";

/** A connection whose client reads what is written only when `release` is called. */
function slowReader() {
  let release: () => void = () => {};
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      release = () => callback();
    },
  });
  return { socket, release: () => release() };
}

test("the linger deadline starts when the answer has gone out, not when the close is asked", async () => {
  const { socket, release } = slowReader();
  closeLingering(socket, "the last answer");
  await sleep(LINGER_MS + 300);
  assert.equal(socket.destroyed, false, "not cut while the answer is still going out");
  release();
  await sleep(100);
  assert.equal(socket.writableFinished, true);
  assert.equal(socket.destroyed, false, "the client gets its time to close");
  await sleep(LINGER_MS + 300);
  assert.equal(socket.destroyed, true, "a client that never closes is dropped");
});
