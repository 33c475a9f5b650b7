// One running process of a service: forks the service host, waits for its
// ready report (its socket listens), collects its output line by line and its
// figures, and stops it: drain, a deadline, then SIGKILL.
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import {
  EXIT_DRAIN_DEADLINE,
  HOST_SETTINGS_ENV,
  type HostCommand,
  type HostReport,
  type HostSettings,
  isHostReport,
} from "./host-messages.ts";
import { forEachLine } from "./output-lines.ts";

const hostModule = fileURLToPath(new URL("./service-host.ts", import.meta.url));

export type InstanceFigures = Omit<Extract<HostReport, { type: "figures" }>, "type">;

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly uptimeMs: number;
}

export interface InstanceOptions {
  readonly settings: HostSettings;
  readonly env: Readonly<Record<string, string>>;
  readonly readyTimeoutMs: number;
  readonly onLine: (line: string) => void;
}

export class StartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartError";
  }
}

export class Instance {
  readonly settings: HostSettings;
  readonly startedAt = Date.now();
  readonly #child: ChildProcess;
  readonly #exited: Promise<ExitInfo>;
  #readyAt: number | undefined;
  #figures: InstanceFigures | undefined;

  constructor(options: InstanceOptions) {
    this.settings = options.settings;
    this.#child = fork(hostModule, [], {
      env: {
        ...process.env,
        ...options.env,
        NEXUS_SOCKET_DIR: options.settings.socketDir,
        [HOST_SETTINGS_ENV]: JSON.stringify(options.settings),
      },
      execArgv: [],
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    for (const stream of [this.#child.stdout, this.#child.stderr]) {
      if (stream) forEachLine(stream, options.onLine);
    }
    this.#child.on("message", (message) => {
      if (isHostReport(message) && message.type === "figures") {
        const { type: _, ...figures } = message;
        this.#figures = figures;
      }
    });
    // A failed spawn is reported through "exit" with a code; nothing else to do here.
    this.#child.on("error", () => {});
    this.#exited = once(this.#child, "exit").then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
      uptimeMs: Date.now() - this.startedAt,
    }));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get readyAt(): number | undefined {
    return this.#readyAt;
  }

  get figures(): InstanceFigures | undefined {
    return this.#figures;
  }

  /** Resolves once the process exits, however it ends. */
  get exited(): Promise<ExitInfo> {
    return this.#exited;
  }

  /** Resolves when the host reports ready; rejects (and kills it) on failure or timeout. */
  async ready(timeoutMs: number): Promise<void> {
    const abort = new AbortController();
    const report = new Promise<HostReport>((resolve) => {
      const listener = (message: unknown) => {
        if (isHostReport(message) && message.type !== "figures") resolve(message);
      };
      this.#child.on("message", listener);
      abort.signal.addEventListener("abort", () => this.#child.off("message", listener));
    });
    const timer = new Promise<"timeout">((resolve) => {
      const handle = setTimeout(resolve, timeoutMs, "timeout");
      abort.signal.addEventListener("abort", () => clearTimeout(handle));
    });
    const outcome = await Promise.race([report, this.#exited, timer]).finally(() => abort.abort());
    if (outcome === "timeout") {
      this.#child.kill("SIGKILL");
      throw new StartError(`not ready after ${timeoutMs} ms`);
    }
    if ("uptimeMs" in outcome)
      throw new StartError(`exited before ready (${describeExit(outcome)})`);
    if (outcome.type === "failed") {
      this.#child.kill("SIGKILL");
      throw new StartError(outcome.reason);
    }
    if (outcome.type === "ready") this.#readyAt = Date.now();
  }

  /**
   * Asks the host to drain; kills it if it has not exited by the deadline.
   * `drained` is false when requests were cut at the deadline or it was killed.
   */
  async stop(timeoutMs: number): Promise<ExitInfo & { readonly drained: boolean }> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#send({ type: "drain", timeoutMs });
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<"deadline">((resolve) => {
      // A little grace beyond the host's own deadline for it to close and exit.
      timer = setTimeout(resolve, timeoutMs + 1000, "deadline");
    });
    const outcome = await Promise.race([this.#exited, deadline]);
    clearTimeout(timer);
    if (outcome !== "deadline") {
      return { ...outcome, drained: outcome.code !== EXIT_DRAIN_DEADLINE };
    }
    this.#child.kill("SIGKILL");
    return { ...(await this.#exited), drained: false };
  }

  kill(): void {
    this.#child.kill("SIGKILL");
  }

  #send(command: HostCommand): void {
    if (this.#child.connected) this.#child.send(command, () => {});
  }
}

export function describeExit(exit: Pick<ExitInfo, "code" | "signal">): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}
