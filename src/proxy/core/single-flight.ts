// Collapses concurrent work on one key: while a call for a key is running,
// further calls for that key share its promise instead of starting again.
export class SingleFlight<T> {
  readonly #running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.#running.get(key);
    if (running) return running;
    const promise = work().finally(() => this.#running.delete(key));
    this.#running.set(key, promise);
    return promise;
  }

  get inFlight(): number {
    return this.#running.size;
  }
}
