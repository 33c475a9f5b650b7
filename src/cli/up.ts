// `nexus up`: runs the orchestrator in the foreground until SIGINT/SIGTERM or
// `nexus stop`; SIGHUP reloads every service.
import { access } from "node:fs/promises";
import { resolve } from "node:path";
import type { Orchestrator } from "../orchestrator/orchestrator.ts";
import { type Command, socketDirHelp, socketDirOption } from "./command.ts";
import { parseCommandLine, UsageError } from "./usage-error.ts";

const DEFAULT_CONFIGS = ["nexus.config.ts", "nexus.config.yaml", "nexus.config.yml"];

export const up: Command = {
  name: "up",
  summary: "run the services of a config in the foreground",
  help: `Usage: nexus up [config] [options]

Starts every service of the config (in dependsOn order), the gateway, the
proxy listeners and the control socket, and supervises them until Ctrl-C,
SIGTERM or \`nexus stop\`. A second Ctrl-C exits at once (each service then
drains on its own). SIGHUP reloads every service without dropping a request.

  config             nexus.config.ts or .yaml (default: the one in this folder)
${socketDirHelp.replace("where the orchestrator runs", "overrides the config's socketDir")}

Exit code: 0 when every instance drained in time, 1 when one did not (its
open requests were cut at stopTimeoutMs, or it was killed) or the orchestrator
could not start.`,

  async run(args) {
    const { values, positionals } = parseCommandLine(args, socketDirOption);
    if (positionals.length > 1) throw new UsageError("expected at most one config file");
    // Loaded here, not at the top: other commands start faster without them.
    const { loadConfig } = await import("../orchestrator/config-file.ts");
    const { Orchestrator } = await import("../orchestrator/orchestrator.ts");
    const loaded = await loadConfig(positionals[0] ?? (await defaultConfig()));
    const socketDir = values["socket-dir"];
    const config = socketDir ? { ...loaded, socketDir: resolve(socketDir) } : loaded;
    const print = (line: string) => process.stdout.write(`${line}\n`);
    const orchestrator = new Orchestrator(config, (line) => print(`[nexus] ${line}`));

    let stopping = false;
    const stop = new Promise<void>((done) => {
      const request = () => {
        if (stopping) {
          // A second Ctrl-C: leave now; each service drains on its own when we are gone.
          print("[nexus] second signal: exiting without waiting");
          process.exit(1);
        }
        print("[nexus] stopping: draining requests in flight (Ctrl-C again to exit now)");
        stopping = true;
        done();
      };
      process.on("SIGINT", request);
      process.on("SIGTERM", request);
      void orchestrator.stopRequested.then(request);
    });
    process.on("SIGHUP", () => {
      print("[nexus] SIGHUP: reloading every service");
      orchestrator
        .reload()
        .catch((error: Error) => print(`[nexus] reload failed: ${error.message}`));
    });

    try {
      await orchestrator.start();
    } catch (error) {
      await orchestrator.stop();
      throw error;
    }
    if (!stopping) printBanner(orchestrator, print);
    await stop;
    const { notDrained } = await orchestrator.stop();
    print(
      notDrained === 0
        ? "[nexus] stopped: every instance drained"
        : `[nexus] stopped: ${notDrained} instance(s) did not drain in time`,
    );
    return notDrained === 0 ? 0 : 1;
  },
};

async function defaultConfig(): Promise<string> {
  for (const name of DEFAULT_CONFIGS) {
    if (
      await access(name).then(
        () => true,
        () => false,
      )
    )
      return name;
  }
  throw new UsageError(
    `no config given and none found here (looked for ${DEFAULT_CONFIGS.join(", ")})`,
  );
}

function printBanner(orchestrator: Orchestrator, print: (line: string) => void): void {
  const { socketDir, gateway, proxy } = orchestrator.info();
  const statuses = orchestrator.status().map((s) => `${s.name} (${s.status})`);
  print("");
  print(`  services     ${statuses.join(", ")}`);
  if (gateway) print(`  gateway      ${gateway}`);
  const domain = orchestrator.config.proxy ? orchestrator.config.proxy.domain : false;
  const byHost = domain === false ? "" : `  (Host: <service>.${domain})`;
  if (proxy.length > 0) print(`  proxy        ${proxy.join(", ")}${byHost}`);
  print(`  socket dir   ${socketDir}`);
  const hints = orchestrator.config.hints.map((hint) =>
    hint
      .replaceAll("{gateway}", gateway ?? "")
      .replaceAll("{proxy}", proxy[0] ?? "")
      .replaceAll("{socketDir}", socketDir),
  );
  if (hints.length > 0) {
    print("");
    print("  Try:");
    for (const hint of hints) print(`    ${hint}`);
  }
  print("");
  print("  Ctrl-C stops everything.");
  print("");
}
