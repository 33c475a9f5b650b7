// The whole system in one test process: an orchestrator whose services are
// real child processes, and an HTTP proxy listener on loopback whose
// resolver is that orchestrator. Clients are undici pools to the proxy.
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import type { NexusConfigInput } from "../../src/orchestrator/config.ts";
import { parseConfig } from "../../src/orchestrator/config-file.ts";
import { Orchestrator } from "../../src/orchestrator/orchestrator.ts";
import { OrchestratorResolver } from "../../src/orchestrator/orchestrator-resolver.ts";
import { BackendRouter, type ColdStartOptions } from "../../src/proxy/core/index.ts";
import { HttpProxy } from "../../src/proxy/http/index.ts";
import { tempDir } from "../orchestrator/harness.ts";

export { eventually } from "../orchestrator/harness.ts";

export const app = fileURLToPath(new URL("./fixtures/app.ts", import.meta.url));
export const broken = fileURLToPath(new URL("./fixtures/broken.ts", import.meta.url));

type ServiceInput = NexusConfigInput["services"][string];

/** A service entry of the app fixture playing `name`. */
export function appService(name: string, extra: Partial<ServiceInput> = {}): ServiceInput {
  return { ...extra, entry: app, env: { FIXTURE_NAME: name, ...extra.env } };
}

export interface SystemOptions {
  readonly coldStart?: ColdStartOptions;
}

/**
 * Open proxy connections count as traffic only when they open or close, not
 * periodically: a backend's Keep-Alive hint lets the proxy's pool hold an
 * idle connection for minutes, which must not keep a service awake. Requests
 * themselves keep it awake through the service's own figures.
 */
const NO_ACTIVITY_TICKS_MS = 2 ** 31 - 1;

export interface RunningSystem extends AsyncDisposable {
  readonly orchestrator: Orchestrator;
  readonly resolver: OrchestratorResolver;
  readonly router: BackendRouter;
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
 * Starts an orchestrator for `services` and a proxy listener in front of it,
 * with sockets, logs and the services' start log in a temp dir.
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
    { services: logged, logs: { dir: join(dir, "logs") }, socketDir: join(dir, "sockets") },
    join(dir, "nexus.config.ts"),
  );
  const events: string[] = [];
  const system = { onEvent: (_line: string) => {} };
  const orchestrator = new Orchestrator(loaded, (line) => {
    events.push(line);
    system.onEvent(line);
  });
  const resolver = new OrchestratorResolver({
    services: orchestrator.supervisors,
    socketDir: loaded.socketDir,
  });
  const router = new BackendRouter({
    resolver,
    coldStart: options.coldStart ?? {},
    activityIntervalMs: NO_ACTIVITY_TICKS_MS,
  });
  const proxy = new HttpProxy({ router });
  let client: Pool | undefined;
  const cleanup = async () => {
    await client?.destroy();
    await proxy.close();
    await router.close();
    await orchestrator.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await orchestrator.start();
    const { port } = await proxy.listen(0, "127.0.0.1");
    client = new Pool(`http://127.0.0.1:${port}`, { connections: 256 });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return Object.assign(system, {
    orchestrator,
    resolver,
    router,
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
