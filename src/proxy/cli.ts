// `nexus proxy --config proxy.yaml`: runs the edge proxy until SIGTERM or
// SIGINT (graceful drain), reloading the config on SIGHUP. `--check` only
// validates the file. Resolves with the process exit code.
import process from "node:process";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { loadProxyConfig, type ProxyConfig, ProxySupervisor } from "./server/index.ts";

const USAGE = `usage: nexus proxy --config <proxy.yaml> [--workers <n>] [--check]

  --config, -c   the proxy config file (YAML or JSON)
  --workers, -w  worker processes (overrides the file's "workers")
  --check        validate the config file, print a summary and exit
  --help, -h     this text

Signals: SIGHUP reloads the config file, SIGTERM or SIGINT drain and stop.`;

export async function runProxyCommand(argv: string[]): Promise<number> {
  let values: { config?: string; workers?: string; check?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: "string", short: "c" },
        workers: { type: "string", short: "w" },
        check: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    process.stderr.write(`nexus proxy: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.config === undefined) {
    process.stderr.write(`nexus proxy: --config is required\n${USAGE}\n`);
    return 2;
  }
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1 && workers <= 256)) {
    process.stderr.write("nexus proxy: --workers must be a whole number from 1 to 256\n");
    return 2;
  }
  let config: ProxyConfig;
  try {
    config = loadProxyConfig(values.config);
  } catch (error) {
    process.stderr.write(`nexus proxy: ${(error as Error).message}\n`);
    return 1;
  }
  if (values.check) {
    const listeners = config.listeners.map((l) => `${l.protocol}://${l.host}:${l.port}`).join(", ");
    process.stdout.write(`${values.config}: valid (${listeners})\n`);
    return 0;
  }
  return serve(values.config, config, workers);
}

async function serve(configPath: string, config: ProxyConfig, workers?: number): Promise<number> {
  const logger = pino({ name: "nexus-proxy" });
  const supervisor = new ProxySupervisor({ configPath, logger, workers }, config);
  try {
    await supervisor.start();
  } catch (error) {
    logger.error({ error: (error as Error).message }, "proxy failed to start");
    await supervisor.stop();
    return 1;
  }
  const onHangup = () => void supervisor.reload();
  process.on("SIGHUP", onHangup);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  process.off("SIGHUP", onHangup);
  logger.info({ signal }, "draining");
  await supervisor.stop();
  return 0;
}
