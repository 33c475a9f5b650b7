// `nexus stop`: asks the running orchestrator to drain and exit, and waits
// until it has.
import { setTimeout as sleep } from "node:timers/promises";
import { controlSocketPath } from "../orchestrator/control-server.ts";
import { type Command, socketDirFrom, socketDirHelp, socketDirOption } from "./command.ts";
import { sendControl } from "./control-client.ts";
import { parseCommandLine, UsageError } from "./usage-error.ts";

const WAIT_MS = 120_000;

export const stop: Command = {
  name: "stop",
  summary: "stop the running orchestrator and its services",
  help: `Usage: nexus stop [options]

Stops the gateway, then drains and stops the services in reverse start
order, and waits (up to ${WAIT_MS / 1000} s) until the orchestrator has exited.

${socketDirHelp}`,

  async run(args) {
    const { values, positionals } = parseCommandLine(args, socketDirOption);
    if (positionals.length > 0) throw new UsageError("stop takes no arguments");
    const socketDir = socketDirFrom(values);
    await sendControl(socketDir, { command: "stop" });
    const { probeSocket } = await import("../transport/index.ts");
    const deadline = Date.now() + WAIT_MS;
    while ((await probeSocket(controlSocketPath(socketDir))) === "live") {
      if (Date.now() > deadline) {
        process.stderr.write("the orchestrator is still stopping; check nexus status\n");
        return 1;
      }
      await sleep(100);
    }
    process.stdout.write("stopped\n");
    return 0;
  },
};
