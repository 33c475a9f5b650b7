// A benchmark client in its own process: `node client-process.ts '<job JSON>'`.
// Connects, checks one reply, runs the load, and tells the runner over IPC
// when the measured window opens and closes, then the result.
import { deepEqual } from "node:assert/strict";
import { type LoadOptions, runLoad } from "./load.ts";
import { loadSystem } from "./systems/index.ts";

export interface ClientJob extends LoadOptions {
  readonly system: string;
  readonly address: string;
}

const job = JSON.parse(process.argv[2] ?? "{}") as ClientJob;
// If the runner goes away, so does the client.
process.on("disconnect", () => process.exit(1));

const system = await loadSystem(job.system);
const client = await system.connect(job.address, job.inflight);
deepEqual(await client.call(), system.expectedReply, `${system.name} answered wrongly`);
const result = await runLoad(
  () => client.call(),
  job,
  (edge) => process.send!({ window: edge }),
);
await client.close();
process.send!(result, () => process.exit(0));
