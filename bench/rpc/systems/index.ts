// Every benchmarked system, in table order: the limit first, then Nexus, then
// the peers. Each is loaded on demand, so that a server or client process
// holds only its own system's code.
import type { BenchSystem } from "../system.ts";

const LOADERS = {
  "raw-echo": async () => (await import("./raw-echo.ts")).rawEcho,
  "nexus-rpc": async () => (await import("./nexus-rpc.ts")).nexusRpc,
  "nexus-rpc-msgpack": async () => (await import("./nexus-rpc-msgpack.ts")).nexusRpcMsgpack,
  "nexus-json-lines": async () => (await import("./nexus-json-lines.ts")).nexusJsonLines,
  "nexus-http": async () => (await import("./nexus-http.ts")).nexusHttp,
  moleculer: async () => (await import("./moleculer.ts")).moleculer,
  grpc: async () => (await import("./grpc.ts")).grpc,
} satisfies Record<string, () => Promise<BenchSystem>>;

export const SYSTEM_NAMES: readonly string[] = Object.keys(LOADERS);

function isSystemName(name: string): name is keyof typeof LOADERS {
  return Object.hasOwn(LOADERS, name);
}

/** Throws, naming the known systems, when there is no system by that name. */
export function assertSystemNames(names: readonly string[]): void {
  for (const name of names) {
    if (!isSystemName(name)) {
      throw new Error(`unknown system "${name}" (known: ${SYSTEM_NAMES.join(", ")})`);
    }
  }
}

export function loadSystem(name: string): Promise<BenchSystem> {
  assertSystemNames([name]);
  return LOADERS[name as keyof typeof LOADERS]();
}
