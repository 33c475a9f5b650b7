// The targets both database benchmarks put beside the server and their peer:
// `nexus proxy` with 2 workers, one proxy in this process (and, for a
// protocol whose sessions the kernel relays, one more that relays in the
// process), and the core relay alone (a Node hop that parses nothing), each
// with the meter whose CPU time counts as its proxy's.
import type { AddressInfo } from "node:net";
import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import { type CpuMeter, processCpu, treeCpu } from "../support/cpu-time.ts";
import type { Target } from "../support/rounds.ts";
import { startBareRelay } from "./bare-relay.ts";
import { startNexusWorkers } from "./nexus-workers.ts";

/** A database proxy of this process, as the benchmark drives it. */
export interface InProcessProxy {
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export interface MeteredTarget {
  readonly target: Target;
  readonly cpu: CpuMeter;
}

export interface NexusTargets {
  readonly workers: MeteredTarget;
  readonly inProcess: MeteredTarget;
  /** The in-process proxy with its relay in the process, when the protocol is spliced in the kernel. */
  readonly processRelay: MeteredTarget | undefined;
  readonly bareRelay: MeteredTarget;
  stop(): Promise<void>;
}

/** Starts the three, routing `database` to `server`. */
export async function startNexusTargets(
  dir: string,
  protocol: "postgres" | "mysql",
  database: string,
  server: { readonly host: string; readonly port: number },
  makeProxy: (router: BackendRouter) => InProcessProxy,
  makeProcessRelayProxy?: (router: BackendRouter) => InProcessProxy,
): Promise<NexusTargets> {
  const address = `${server.host}:${server.port}`;
  const router = new BackendRouter({
    resolver: new StaticResolver({ [database]: address }),
    ssrf: { allow: LOOPBACK_RANGES },
  });
  const proxy = makeProxy(router);
  const inProcessPort = (await proxy.listen(0, "127.0.0.1")).port;
  const processRelayProxy = makeProcessRelayProxy?.(router);
  const processRelayPort = (await processRelayProxy?.listen(0, "127.0.0.1"))?.port;
  const workers = await startNexusWorkers(dir, protocol, 2, { name: database, server: address });
  const bare = await startBareRelay(server);
  // This process runs several of them: its CPU time counts for each.
  return {
    workers: { target: ["nexus", workers.port], cpu: treeCpu(workers.child.pid as number) },
    inProcess: {
      target: ["nexus, 1 worker (in-process)", inProcessPort],
      cpu: processCpu(process.pid),
    },
    processRelay:
      processRelayPort === undefined
        ? undefined
        : {
            target: ["nexus, 1 worker, relay in the process", processRelayPort],
            cpu: processCpu(process.pid),
          },
    bareRelay: { target: ["bare relay (no parsing)", bare.port], cpu: processCpu(process.pid) },
    async stop() {
      await workers.stop();
      await bare.stop();
      await proxy.close();
      await processRelayProxy?.close();
      await router.close();
    },
  };
}

/** The server itself first, then `metered` in order, and each one's proxy meter by name. */
export function targetsAndMeters(
  directPort: number,
  metered: readonly MeteredTarget[],
): { targets: Target[]; proxies: Map<string, CpuMeter> } {
  return {
    targets: [["direct", directPort], ...metered.map((one) => one.target)],
    proxies: new Map(metered.map((one) => [one.target[0], one.cpu])),
  };
}
