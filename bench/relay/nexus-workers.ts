// Nexus as `nexus proxy` runs it, in worker processes of its own, as a
// benchmark target beside the in-process proxy: one database listener
// routing one name to the server.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  freePort,
  proxyCommandScript,
  type RunningServer,
  startServer,
} from "../support/processes.ts";

/** Starts `nexus proxy` with `workers` workers and a `protocol` listener routing `route` to `server`. */
export async function startNexusWorkers(
  dir: string,
  protocol: "postgres" | "mysql",
  workers: number,
  route: { readonly name: string; readonly server: string },
): Promise<RunningServer> {
  const port = await freePort();
  const config = join(dir, `nexus-${protocol}-${workers}.yaml`);
  await writeFile(
    config,
    [
      `workers: ${workers}`,
      "listeners:",
      `  - { protocol: ${protocol}, port: ${port} }`,
      `resolver: { routes: { ${route.name}: "${route.server}" } }`,
      "ssrf: { allow: [127.0.0.0/8] }",
      "",
    ].join("\n"),
  );
  const script = await proxyCommandScript(dir);
  return startServer(port, process.execPath, [script, "--config", config], { stdio: "ignore" });
}
