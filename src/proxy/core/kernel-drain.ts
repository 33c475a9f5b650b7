// Waiting for the kernel to hand over the bytes it took: it moves them from
// a work queue of its own, and nothing tells the process when that is done,
// so it checks: at once, then after 1 ms, doubling up to 64 ms while a slow
// reader holds them.
const FIRST_POLL_MS = 1;
const LAST_POLL_MS = 64;

/** Resolves once `done()` is true, or as soon as `hopeless()` is (nothing can move any more). */
export async function kernelDrained(done: () => boolean, hopeless: () => boolean): Promise<void> {
  let pollMs = FIRST_POLL_MS;
  while (!hopeless() && !done()) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    pollMs = Math.min(pollMs * 2, LAST_POLL_MS);
  }
}
