// A mistake in how a command was invoked: printed with the command's usage,
// exit code 2 (as getopt-style tools do).
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** util.parseArgs, with its errors turned into UsageErrors and `--help` always known. */
export function parseCommandLine<T extends Options>(args: readonly string[], options: T) {
  try {
    return parseArgs({
      args: [...args],
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
