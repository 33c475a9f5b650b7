// `nexus token`: prints the mesh token, for curl and other clients.
import { readFile } from "node:fs/promises";
import { type Command, socketDirFrom, socketDirHelp, socketDirOption } from "./command.ts";
import { findTokenFile } from "./token-file.ts";
import { parseCommandLine, UsageError } from "./usage-error.ts";

export const token: Command = {
  name: "token",
  summary: "print the token callers present (Authorization: Bearer …)",
  help: `Usage: nexus token [options]

Prints the shared token, read from the running orchestrator's token file (or
<socket dir>/token when none runs), e.g.:
  curl -H "Authorization: Bearer $(nexus token)" http://127.0.0.1:8080/users/user?id=1

${socketDirHelp}`,

  async run(args) {
    const { values, positionals } = parseCommandLine(args, socketDirOption);
    if (positionals.length > 0) throw new UsageError("token takes no arguments");
    const path = await findTokenFile(socketDirFrom(values));
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      throw new Error(`no token at ${path} yet: it is created when nexus up first runs`);
    }
    process.stdout.write(`${text.trim()}\n`);
    return 0;
  },
};
