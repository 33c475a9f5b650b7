import assert from "node:assert/strict";
import { test } from "node:test";
import { type BreakerState, CircuitBreaker } from "../../src/proxy/core/circuit-breaker.ts";

function clock() {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

test("consecutive failures open the breaker; open fails fast", () => {
  const time = clock();
  const changes: BreakerState[] = [];
  const breaker = new CircuitBreaker({ consecutiveFailures: 3, now: time.now }, (s) =>
    changes.push(s),
  );
  breaker.recordFailure();
  breaker.recordFailure();
  breaker.recordSuccess(); // resets the streak
  breaker.recordFailure();
  breaker.recordFailure();
  assert.equal(breaker.state, "closed");
  breaker.recordFailure();
  assert.equal(breaker.state, "open");
  assert.equal(breaker.tryAcquire(), undefined);
  assert.equal(breaker.retryAfterMs, 1000);
  assert.deepEqual(changes, ["open"]);
});

test("after the open time one probe goes through; its success closes the breaker", () => {
  const time = clock();
  const breaker = new CircuitBreaker({ consecutiveFailures: 1, openMs: 500, now: time.now });
  breaker.recordFailure();
  time.advance(499);
  assert.equal(breaker.tryAcquire(), undefined);
  time.advance(1);
  assert.equal(breaker.state, "half_open");
  assert.equal(breaker.tryAcquire()?.probe, true);
  assert.equal(breaker.tryAcquire(), undefined, "only one probe at a time");
  breaker.recordSuccess();
  assert.equal(breaker.state, "closed");
  assert.equal(breaker.tryAcquire()?.probe, false);
});

test("each reopening doubles the open time, up to the maximum; a success resets it", () => {
  const time = clock();
  const breaker = new CircuitBreaker({
    consecutiveFailures: 1,
    openMs: 100,
    maxOpenMs: 350,
    now: time.now,
  });
  const openTimes: number[] = [];
  for (let i = 0; i < 4; i++) {
    breaker.recordFailure();
    openTimes.push(breaker.retryAfterMs);
    time.advance(breaker.retryAfterMs);
    assert.equal(breaker.tryAcquire()?.probe, true);
  }
  assert.deepEqual(openTimes, [100, 200, 350, 350]);
  breaker.recordSuccess();
  breaker.recordFailure();
  assert.equal(breaker.retryAfterMs, 100);
});

test("an error ratio over the window opens the breaker once enough requests were seen", () => {
  const time = clock();
  const breaker = new CircuitBreaker({
    consecutiveFailures: 100,
    errorRatio: 0.5,
    minimumRequests: 10,
    windowMs: 1000,
    now: time.now,
  });
  for (let i = 0; i < 4; i++) {
    breaker.recordFailure();
    breaker.recordSuccess();
  }
  breaker.recordFailure();
  assert.equal(breaker.state, "closed", "9 outcomes are below the minimum");
  breaker.recordSuccess();
  assert.equal(breaker.state, "closed", "a success never opens it");
  breaker.recordFailure();
  assert.equal(breaker.state, "open", "6 failures in 11");
});

test("the window forgets outcomes older than its length", () => {
  const time = clock();
  const breaker = new CircuitBreaker({
    consecutiveFailures: 100,
    minimumRequests: 4,
    windowMs: 1000,
    now: time.now,
  });
  breaker.recordFailure();
  breaker.recordFailure();
  breaker.recordSuccess();
  time.advance(1000);
  breaker.recordFailure();
  breaker.recordSuccess();
  breaker.recordSuccess();
  breaker.recordSuccess();
  assert.equal(breaker.state, "closed");
});

test("a probe that ends without a verdict frees the slot for the next one", () => {
  const time = clock();
  const breaker = new CircuitBreaker({ consecutiveFailures: 1, now: time.now });
  breaker.recordFailure();
  time.advance(1000);
  const probe = breaker.tryAcquire();
  assert.equal(probe?.probe, true);
  breaker.release(probe!);
  assert.equal(breaker.tryAcquire()?.probe, true);
  breaker.recordFailure();
  assert.equal(breaker.state, "open");
});

test("an attempt let through before the breaker opened cannot free the probe slot", () => {
  const time = clock();
  const breaker = new CircuitBreaker({ consecutiveFailures: 1, now: time.now });
  const early = breaker.tryAcquire()!;
  breaker.recordFailure();
  time.advance(1000);
  const probe = breaker.tryAcquire();
  assert.equal(probe?.probe, true);
  breaker.release(early); // the earlier attempt ends without a verdict
  assert.equal(breaker.tryAcquire(), undefined, "the probe still holds the slot");
  breaker.release(probe!);
  assert.equal(breaker.tryAcquire()?.probe, true);
});

test("a probe not judged within the last open time gives up its slot to the next one", () => {
  const time = clock();
  const breaker = new CircuitBreaker({ consecutiveFailures: 1, openMs: 500, now: time.now });
  breaker.recordFailure();
  time.advance(500);
  const slow = breaker.tryAcquire();
  assert.equal(slow?.probe, true);
  time.advance(499);
  assert.equal(breaker.tryAcquire(), undefined, "the probe still holds the slot");
  time.advance(1);
  const next = breaker.tryAcquire();
  assert.equal(next?.probe, true);
  breaker.release(slow!); // the slow one ending now frees nothing
  assert.equal(breaker.tryAcquire(), undefined);
  breaker.recordSuccess();
  assert.equal(breaker.state, "closed");
});
