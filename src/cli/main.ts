// The `nexus` command: picks the subcommand, prints help, and turns errors
// into one clear line and an exit code (2 for usage mistakes, 1 otherwise).
import { call } from "./call.ts";
import type { Command } from "./command.ts";
import { logs } from "./logs.ts";
import { proxy } from "./proxy.ts";
import { reload } from "./reload.ts";
import { status } from "./status.ts";
import { stop } from "./stop.ts";
import { token } from "./token.ts";
import { up } from "./up.ts";
import { UsageError } from "./usage-error.ts";

const commands: readonly Command[] = [up, status, call, reload, stop, logs, token, proxy];

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `Usage: nexus <command> [options]

Runs and supervises Nexus services, and talks to the running orchestrator.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Run nexus <command> --help for a command's options.
`;
}

export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const topic = commands.find((c) => c.name === args[0]);
    if (topic?.help === undefined) {
      if (topic) return topic.run(["--help"]);
      process.stdout.write(overview());
      return 0;
    }
    process.stdout.write(`${topic.help}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    process.stderr.write(`nexus: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  if (command.help !== undefined && (args.includes("--help") || args.includes("-h"))) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(
        `nexus ${name}: ${error.message}\nRun nexus ${name} --help for usage.\n`,
      );
      return 2;
    }
    process.stderr.write(`nexus ${name}: ${(error as Error).message}\n`);
    return 1;
  }
}
