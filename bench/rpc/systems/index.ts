// Every benchmarked system, in table order: the limit first, then Nexus, then the peers.
import type { BenchSystem } from "../system.ts";
import { grpc } from "./grpc.ts";
import { moleculer } from "./moleculer.ts";
import { nexusHttp } from "./nexus-http.ts";
import { nexusJsonLines } from "./nexus-json-lines.ts";
import { nexusRpc } from "./nexus-rpc.ts";
import { rawEcho } from "./raw-echo.ts";

export const SYSTEMS: readonly BenchSystem[] = [
  rawEcho,
  nexusRpc,
  nexusJsonLines,
  nexusHttp,
  moleculer,
  grpc,
];

export function systemNamed(name: string): BenchSystem {
  const system = SYSTEMS.find((candidate) => candidate.name === name);
  if (system === undefined) {
    const known = SYSTEMS.map((candidate) => candidate.name).join(", ");
    throw new Error(`unknown system "${name}" (known: ${known})`);
  }
  return system;
}
