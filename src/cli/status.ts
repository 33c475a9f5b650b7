// `nexus status`: every service and instance with its figures.
import type { ServiceReport } from "../orchestrator/orchestrator.ts";
import { type Command, socketDirFrom, socketDirHelp, socketDirOption } from "./command.ts";
import { sendControl } from "./control-client.ts";
import { renderStatus } from "./status-table.ts";
import { parseCommandLine, UsageError } from "./usage-error.ts";

export const status: Command = {
  name: "status",
  summary: "show services, instances and their figures",
  help: `Usage: nexus status [options]

One row per instance: status, pid, uptime, restarts, requests, errors,
average and p99 response time, memory and CPU. Then the proxy's routes (the
URLs that reach each service) with each service's cold starts. An errored
service shows why, with its last lines of output.

  --json             print the figures as JSON, for scripts
${socketDirHelp}`,

  async run(args) {
    const { values, positionals } = parseCommandLine(args, {
      ...socketDirOption,
      json: { type: "boolean" },
    });
    if (positionals.length > 0) throw new UsageError("status takes no arguments");
    const services = (await sendControl(socketDirFrom(values), {
      command: "status",
    })) as ServiceReport[];
    process.stdout.write(
      values.json ? `${JSON.stringify(services, null, 2)}\n` : renderStatus(services),
    );
    return 0;
  },
};
