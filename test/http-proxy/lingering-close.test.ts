// The close after a last answer: a client that keeps reading gets all of the
// answer however slowly it reads, then LINGER_MS to close its end; a client
// that stops reading is dropped once its stall time passes with none of it taken.
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { closeLingering, LINGER_MS } from "../../src/proxy/http/lingering-close.ts";

/** A connection whose client takes one written piece each time `take` is called. */
function slowReader() {
  const waiting: (() => void)[] = [];
  const socket = new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      waiting.push(() => callback());
    },
  });
  return { socket, take: () => waiting.shift()?.() };
}

test("a client that keeps reading gets the whole answer, then LINGER_MS to close", async () => {
  const { socket, take } = slowReader();
  socket.write("first part, ");
  socket.write("second part, ");
  closeLingering(socket, "the end", 3000);
  // One piece taken every 1.5 s: within each stall time, something is taken.
  for (let piece = 0; piece < 3; piece++) {
    await sleep(1500);
    assert.equal(socket.destroyed, false, `cut while piece ${piece} was still to go`);
    take();
  }
  await sleep(100);
  assert.equal(socket.writableFinished, true);
  assert.equal(socket.destroyed, false, "the client gets its time to close");
  await sleep(LINGER_MS);
  assert.equal(socket.destroyed, true, "a client that never closes is dropped");
});

test("a client that stops reading is dropped once its stall time passes with nothing taken", async () => {
  const { socket } = slowReader();
  closeLingering(socket, "an answer nobody reads", 500);
  await sleep(250);
  assert.equal(socket.destroyed, false);
  await sleep(600);
  assert.equal(socket.destroyed, true);
});
