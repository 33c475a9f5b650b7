// A benchmark server in its own process: `node server-process.ts <system> <dir>`.
// Tells the runner its address over IPC, answers "cpu" with the CPU time it
// has used so far, and serves until the runner sends "stop" or goes away.
import { loadSystem } from "./systems/index.ts";

const [name = "", dir = ""] = process.argv.slice(2);
const server = await (await loadSystem(name)).serve(dir);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close();
  // Some peers keep timers or handles alive after closing; the process is done either way.
  process.exit(0);
}

process.on("message", (message) => {
  if (message === "stop") void stop();
  if (message === "cpu") {
    const { user, system } = process.cpuUsage();
    process.send!({ cpu_us: user + system });
  }
});
process.on("disconnect", () => void stop());
process.send!({ address: server.address });
