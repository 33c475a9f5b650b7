// The whole system in one test process: an orchestrator whose services are
// real child processes, with its HTTP proxy listener on loopback (the
// configuration's `proxy` section). Clients are undici pools to the proxy.
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import type { NexusConfigInput } from "../../src/orchestrator/config.ts";
import { parseConfig } from "../../src/orchestrator/config-file.ts";
import { Orchestrator } from "../../src/orchestrator/orchestrator.ts";
import { tempDir } from "../orchestrator/harness.ts";

export { eventually } from "../orchestrator/harness.ts";

export const app = fileURLToPath(new URL("./fixtures/app.ts", import.meta.url));
export const broken = fileURLToPath(new URL("./fixtures/broken.ts", import.meta.url));

type ServiceInput = NexusConfigInput["services"][string];

/** A service entry of the app fixture playing `name`. */
export function appService(name: string, extra: Partial<ServiceInput> = {}): ServiceInput {
  return { ...extra, entry: app, env: { FIXTURE_NAME: name, ...extra.env } };
}

/** The proxy section of the test's configuration, beyond its one listener. */
export type SystemOptions = Omit<
  NonNullable<Exclude<NexusConfigInput["proxy"], false>>,
  "listeners"
>;

export interface RunningSystem extends AsyncDisposable {
  readonly orchestrator: Orchestrator;
  readonly dir: string;
  /** The pids of the processes that started, in order (from the app fixture's own log). */
  starts(): Promise<number[]>;
  /** Lifecycle events as the orchestrator reports them (`lazy: sleeping` …). */
  readonly events: string[];
  /** Called with each event as it happens. */
  onEvent: (line: string) => void;
  /** A client pool to the proxy listener. */
  readonly client: Pool;
}

/**
 * Starts an orchestrator for `services` with a proxy listener in front of
 * them, with sockets, logs and the services' start log in a temp dir.
 */
export async function runSystem(
  services: Record<string, ServiceInput>,
  options: SystemOptions = {},
): Promise<RunningSystem> {
  const dir = await tempDir("system");
  const startLog = join(dir, "starts.log");
  const logged = Object.fromEntries(
    Object.entries(services).map(([name, service]) => [
      name,
      { ...service, env: { START_LOG: startLog, ...service.env } },
    ]),
  );
  const loaded = parseConfig(
    {
      services: logged,
      proxy: { ...options, listeners: [{ host: "127.0.0.1", port: 0 }] },
      logs: { dir: join(dir, "logs") },
      socketDir: join(dir, "sockets"),
    },
    join(dir, "nexus.config.ts"),
  );
  const events: string[] = [];
  const system = { onEvent: (_line: string) => {} };
  const orchestrator = new Orchestrator(loaded, (line) => {
    events.push(line);
    system.onEvent(line);
  });
  let client: Pool | undefined;
  const cleanup = async () => {
    await client?.destroy();
    await orchestrator.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await orchestrator.start();
    client = new Pool(orchestrator.info().proxy[0]!, { connections: 256 });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return Object.assign(system, {
    orchestrator,
    dir,
    starts: async () => {
      const text = await readFile(startLog, "utf8").catch(() => "");
      return text.split("\n").filter(Boolean).map(Number);
    },
    events,
    client,
    [Symbol.asyncDispose]: cleanup,
  });
}

export interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One GET through the proxy, with `host` as the Host header. */
export async function get(
  client: Pool,
  host: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const response = await client.request({ method: "GET", path, headers: { ...headers, host } });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: await response.body.text(),
  };
}

/** The pid a `/pid` reply names; fails the test on any other reply. */
export function pidOf(reply: Reply): number {
  if (reply.status !== 200) throw new Error(`status ${reply.status}: ${reply.body}`);
  return (JSON.parse(reply.body) as { pid: number }).pid;
}
