// `nexus logs <service> [-f]`: a service's log file (its output and pino
// logs), found through the running orchestrator.
import { type Command, socketDirFrom, socketDirHelp, socketDirOption } from "./command.ts";
import { sendControl } from "./control-client.ts";
import { follow, lastLines } from "./log-follower.ts";
import { parseCommandLine, UsageError } from "./usage-error.ts";

export const logs: Command = {
  name: "logs",
  summary: "print (and follow) a service's log",
  help: `Usage: nexus logs <service> [options]

Prints the last lines of the service's log file: everything its instances
wrote to stdout and stderr (pino logs included) and the supervisor's events
about it ([nexus] lines). Files rotate by size (<service>.log.1, .2, …).

  -f, --follow       keep printing new lines (Ctrl-C to stop)
  -n, --lines N      how many lines to print first (default 50)
${socketDirHelp}`,

  async run(args) {
    const { values, positionals } = parseCommandLine(args, {
      ...socketDirOption,
      follow: { type: "boolean", short: "f" },
      lines: { type: "string", short: "n" },
    });
    if (positionals.length !== 1) throw new UsageError("expected one service name");
    const count = values.lines === undefined ? 50 : Number(values.lines);
    if (!Number.isInteger(count) || count < 0) {
      throw new UsageError(`--lines expects a whole number, found "${values.lines}"`);
    }
    const { file } = (await sendControl(socketDirFrom(values), {
      command: "logs",
      service: positionals[0]!,
    })) as { file: string };
    const { text, end } = await lastLines(file, count);
    process.stdout.write(text);
    if (!values.follow) return 0;
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.once("SIGTERM", () => stop.abort());
    await follow(file, end, (chunk) => process.stdout.write(chunk), stop.signal);
    return 0;
  },
};
