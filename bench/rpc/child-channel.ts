// The runner's side of a benchmark child process: its IPC messages in order
// (none lost while the runner is busy elsewhere), waits with a deadline, and
// a clean stop.
import { type ChildProcess, fork } from "node:child_process";

export class ChildChannel {
  readonly #child: ChildProcess;
  readonly #what: string;
  readonly #queue: unknown[] = [];
  #waiter: (() => void) | undefined;
  #exit: string | undefined;

  /** Forks `script` with the runner's Node; `what` names the child in errors. */
  constructor(script: string, args: readonly string[], execArgv: readonly string[], what: string) {
    this.#what = what;
    this.#child = fork(script, args, {
      execPath: process.execPath,
      execArgv: [...execArgv],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child.on("message", (message) => {
      this.#queue.push(message);
      this.#waiter?.();
    });
    this.#child.on("exit", (code, signal) => {
      this.#exit = signal ?? `code ${code}`;
      this.#waiter?.();
    });
    this.#child.on("error", (error) => {
      this.#exit = error.message;
      this.#waiter?.();
    });
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  send(message: unknown): void {
    if (this.#child.connected) this.#child.send(message as string);
  }

  /** The next message; rejects when the child exits or stays silent for timeoutMs. */
  async next<T>(timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.#exit !== undefined) {
        throw new Error(`${this.#what} exited (${this.#exit}) before reporting`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        this.kill();
        throw new Error(`${this.#what} sent nothing within ${timeoutMs} ms`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#waiter = undefined;
    }
    return this.#queue.shift() as T;
  }

  /** Waits for the child to exit, killing it after timeoutMs. */
  async stopped(timeoutMs: number): Promise<void> {
    if (this.exited) return;
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    clearTimeout(timer);
  }

  kill(): void {
    if (!this.exited) this.#child.kill("SIGKILL");
  }
}
