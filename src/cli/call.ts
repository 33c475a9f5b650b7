// `nexus call <service> <METHOD> <path>`: one call through the mesh client,
// as another service would make it; prints the result as JSON.
import { type Command, socketDirFrom, socketDirHelp, socketDirOption } from "./command.ts";
import { findTokenFile } from "./token-file.ts";
import { parseCommandLine, UsageError } from "./usage-error.ts";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

export const call: Command = {
  name: "call",
  summary: "call a service route and print the result",
  help: `Usage: nexus call <service> <METHOD> <path> [options]

Calls a route over the service's socket (framed RPC, with the token) and
prints the result as JSON; an error prints its code and message (exit 1).

  --data JSON        the request's data, e.g. --data '{"id":1}'
  --timeout MS       deadline of the call (default 30000)
${socketDirHelp}

Example: nexus call users GET /user --data '{"id":1}'`,

  async run(args) {
    const { values, positionals } = parseCommandLine(args, {
      ...socketDirOption,
      data: { type: "string" },
      timeout: { type: "string" },
    });
    const [service, method, path, ...extra] = positionals;
    if (service === undefined || method === undefined || path === undefined || extra.length > 0) {
      throw new UsageError("expected: nexus call <service> <METHOD> <path>");
    }
    if (!METHODS.includes(method.toUpperCase())) {
      throw new UsageError(`unknown method "${method}" (expected one of ${METHODS.join(", ")})`);
    }
    if (!path.startsWith("/")) throw new UsageError(`the path must start with /, found "${path}"`);
    const data = values.data === undefined ? undefined : parseData(values.data);
    const timeoutMs = values.timeout === undefined ? 30_000 : Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) {
      throw new UsageError(`--timeout expects milliseconds, found "${values.timeout}"`);
    }
    const socketDir = socketDirFrom(values);
    // Loaded here, not at the top: other commands start faster without the mesh client.
    const { Client } = await import("../transport/index.ts");
    const { ServiceError } = await import("../service/index.ts");
    const client = new Client({ socketDir, tokenPath: await findTokenFile(socketDir), timeoutMs });
    try {
      const result = await client.request(service, method.toUpperCase(), path, data);
      process.stdout.write(`${JSON.stringify(result, null, 2) ?? "(no content)"}\n`);
      return 0;
    } catch (error) {
      if (!(error instanceof ServiceError)) throw error;
      const details = error.details === undefined ? "" : ` ${JSON.stringify(error.details)}`;
      process.stderr.write(`${error.code}: ${error.message}${details}\n`);
      return 1;
    } finally {
      await client.close();
    }
  },
};

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--data is not valid JSON: ${(error as Error).message}`);
  }
}
