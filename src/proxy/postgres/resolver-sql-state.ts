// How a routing failure reads to a PostgreSQL client: each ResolverError
// becomes the SQLSTATE a PostgreSQL server would use for the same situation.
import type { ResolverError } from "../core/index.ts";
import { SqlStateError } from "./sql-state-error.ts";

/** What the routing key was, so messages read like the server's own. */
export interface RoutingSubject {
  /** For example "database", "user", "option tenant", "server name". */
  readonly kind: string;
  readonly value: string;
}

export function sqlStateForResolverError(
  error: ResolverError,
  subject: RoutingSubject,
): SqlStateError {
  const named = `${subject.kind} "${subject.value}"`;
  const fail = (sqlState: string, message: string) =>
    new SqlStateError(sqlState, message, { cause: error });
  const unknown = () =>
    subject.kind === "database"
      ? fail("3D000", `database "${subject.value}" does not exist`)
      : fail("3D000", `no database is routed for ${named}`);
  switch (error.reason) {
    case "unknown_route":
      return unknown();
    case "cold_start_timeout":
      return fail("57P03", `the database system for ${named} is starting up; try again`);
    case "cold_start_failed":
      return fail("57P03", `the database system for ${named} could not be started`);
    case "queue_full":
      return fail("53300", `sorry, too many clients already waiting for ${named}`);
    case "breaker_open":
      return fail("08006", `the server for ${named} failed recently; not retrying yet`);
    case "backend_unreachable":
      return fail("08006", `could not connect to the server for ${named}`);
    case "connect_timeout":
      return fail("08006", `the server for ${named} did not accept the connection in time`);
    case "blocked_address":
      return fail("28000", `the server address for ${named} is not allowed`);
    case "resolver_failed":
      return fail("XX000", `routing ${named} failed`);
  }
  switch (error.code) {
    case "NOT_FOUND":
      return unknown();
    case "FORBIDDEN":
      return fail("28000", `access to ${named} is not allowed`);
    case "TIMEOUT":
      return fail("57P03", `the server for ${named} did not answer in time`);
    case "UNAVAILABLE":
      return fail("08006", `the server for ${named} is unavailable`);
    case "INTERNAL":
      return fail("XX000", `routing ${named} failed`);
  }
}
