// Every error the proxy itself reports to a MySQL client, in MySQL's own
// terms (error code and SQLSTATE), so clients show them like a server's.
import type { ResolverError } from "../core/index.ts";
import type { ServerError } from "./err-packet.ts";

export const serverErrors = {
  unknownDatabase: (database: string): ServerError => ({
    code: 1049,
    sqlState: "42000",
    message: `Unknown database '${database}'`,
  }),
  noDatabase: (): ServerError => ({
    code: 1046,
    sqlState: "3D000",
    message: "No database selected: this proxy routes connections by database name",
  }),
  badHandshake: (why: string): ServerError => ({
    code: 1043,
    sqlState: "08S01",
    message: `Bad handshake: ${why}`,
  }),
  unsupportedClient: (): ServerError => ({
    code: 1251,
    sqlState: "08004",
    message:
      "Client does not support authentication protocol requested by server; " +
      "the proxy needs CLIENT_PROTOCOL_41 and CLIENT_PLUGIN_AUTH",
  }),
  cleartextRefused: (what: string): ServerError => ({
    code: 1251,
    sqlState: "08004",
    message:
      `The proxy refuses ${what}: the password would travel in clear ` +
      "over the proxy's unencrypted connection to the server",
  }),
  tooManyConnections: (): ServerError => ({
    code: 1040,
    sqlState: "08004",
    message: "Too many connections",
  }),
  tlsRequired: (): ServerError => ({
    code: 3159,
    sqlState: "HY000",
    message: "Connections using insecure transport are prohibited: use TLS",
  }),
  backendLacks: (capabilities: readonly string[]): ServerError => ({
    code: 1105,
    sqlState: "HY000",
    message: `The backend server does not support ${capabilities.join(", ")}, which this client uses`,
  }),
  backendLost: (why: string): ServerError => ({
    code: 2013,
    sqlState: "HY000",
    message: `Lost connection to the backend server during authentication: ${why}`,
  }),
  timeout: (): ServerError => ({
    code: 2013,
    sqlState: "HY000",
    message: "Lost connection: the handshake did not finish in time",
  }),
} as const;

/** A routing failure as the ERR packet the client sees. */
export function routeError(error: ResolverError, database: string): ServerError {
  switch (error.code) {
    case "NOT_FOUND":
      return serverErrors.unknownDatabase(database);
    case "FORBIDDEN":
      return {
        code: 1044,
        sqlState: "42000",
        message: `Access denied to database '${database}' by the proxy`,
      };
    case "UNAVAILABLE":
      return error.reason === "queue_full"
        ? serverErrors.tooManyConnections()
        : {
            code: 2003,
            sqlState: "HY000",
            message: `Can't connect to the server for '${database}': ${error.message}`,
          };
    case "TIMEOUT":
      return {
        code: 2003,
        sqlState: "HY000",
        message: `Can't connect to the server for '${database}': ${error.message}`,
      };
    case "INTERNAL":
      return { code: 1105, sqlState: "HY000", message: `Proxy routing failed for '${database}'` };
  }
}
