// The service's own boot, without orchestrator or proxy: a process that
// imports the service, serves it on the socket given as its argument and
// says "ready" over IPC, as a supervised host does.
import { dirname } from "node:path";
import { serve } from "../../src/transport/index.ts";
import service from "./service.ts";

const [socketPath] = process.argv.slice(2);
if (socketPath === undefined || typeof process.send !== "function") {
  process.stderr.write("usage: forked by bench/coldstart/run.ts with a socket path\n");
  process.exit(2);
}
const server = await serve(service, {
  socketDir: dirname(socketPath),
  socketPath,
  token: "bench",
});
process.send({ type: "ready" });
process.on("disconnect", () => void server.close({ timeoutMs: 0 }).then(() => process.exit(0)));
