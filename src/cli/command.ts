// The shape of one `nexus` subcommand, and the options every command shares.
import { resolveSocketDir } from "../security/index.ts";

export interface Command {
  readonly name: string;
  /** One line for `nexus --help`. */
  readonly summary: string;
  /** The full `nexus <command> --help` text; undefined when the command prints its own. */
  readonly help: string | undefined;
  /** Resolves the process exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** Accepted by every command that talks to a running orchestrator. */
export const socketDirOption = { "socket-dir": { type: "string" } } as const;

export const socketDirHelp =
  "  --socket-dir DIR   where the orchestrator runs (default: $NEXUS_SOCKET_DIR, else /tmp/nexus)";

export function socketDirFrom(values: { "socket-dir"?: string | boolean | undefined }): string {
  const explicit = values["socket-dir"];
  return resolveSocketDir(typeof explicit === "string" ? explicit : undefined);
}
