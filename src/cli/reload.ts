// `nexus reload [service]`: a rolling reload through the running orchestrator.
import { type Command, socketDirFrom, socketDirHelp, socketDirOption } from "./command.ts";
import { sendControl } from "./control-client.ts";
import { parseCommandLine, UsageError } from "./usage-error.ts";

export const reload: Command = {
  name: "reload",
  summary: "restart services one instance at a time, without failed requests",
  help: `Usage: nexus reload [service] [options]

For each instance: start a new process, wait until it listens, give it the
socket, then drain the old one. Without a service, reloads all of them in
start order. An errored or stopped service is started afresh.

${socketDirHelp}`,

  async run(args) {
    const { values, positionals } = parseCommandLine(args, socketDirOption);
    if (positionals.length > 1) throw new UsageError("expected at most one service name");
    const service = positionals[0];
    await sendControl(socketDirFrom(values), {
      command: "reload",
      ...(service === undefined ? {} : { service }),
    });
    process.stdout.write(`reloaded ${service ?? "every service"}\n`);
    return 0;
  },
};
