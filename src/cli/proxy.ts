// `nexus proxy …`: the edge proxy's own command line (src/proxy/cli.ts),
// loaded only when used; it prints its own help.
import type { Command } from "./command.ts";

export const proxy: Command = {
  name: "proxy",
  summary: "run the edge proxy (nexus proxy --help for its options)",
  help: undefined,

  async run(args) {
    const { runProxyCommand } = await import("../proxy/cli.ts");
    return runProxyCommand([...args]);
  },
};
