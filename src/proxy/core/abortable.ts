// Stops waiting for work when a signal aborts. The work itself goes on (a
// DNS lookup or a shared cold start cannot be cancelled for one caller);
// only this caller's wait ends, with the error `aborted` builds.
export function abortable<T>(
  work: Promise<T>,
  signal: AbortSignal,
  aborted: () => Error,
): Promise<T> {
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
