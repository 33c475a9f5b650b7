// Shutdown and grace tests wait for the proxy to let go of a connection: it
// must happen long before any deadline of the proxy's own, which alone could
// otherwise explain it.

/** Waits for `done`, failing after 5 s. */
export async function promptly(done: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("the proxy held on until a deadline of its own")),
      5_000,
    );
  });
  try {
    await Promise.race([done, expired]);
  } finally {
    clearTimeout(timer);
  }
}
