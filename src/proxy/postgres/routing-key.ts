// Which part of a connection chooses its backend: the database (the
// default, as PgBouncer and PgCat do), the user, a setting in the `options`
// startup parameter, or the TLS server name (SNI).
import type { RoutingSubject } from "./resolver-sql-state.ts";
import { SqlStateError } from "./sql-state-error.ts";
import { takeOption } from "./startup-options.ts";

export type RouteBy = "database" | "user" | "sni" | { readonly option: string };

export interface RoutingDecision {
  readonly subject: RoutingSubject;
  /** The startup parameters to send on (a routing option is removed). */
  readonly parameters: Map<string, string>;
}

/**
 * Reads the routing key from a StartupMessage's parameters and, for SNI, the
 * TLS server name. Throws a SqlStateError when the key is missing.
 */
export function readRoutingKey(
  routeBy: RouteBy,
  parameters: ReadonlyMap<string, string>,
  serverName: string | undefined,
): RoutingDecision {
  const sent = new Map(parameters);
  const user = sent.get("user") ?? "";
  if (routeBy === "database") {
    // PostgreSQL's own rule: the database defaults to the user name.
    return { subject: { kind: "database", value: sent.get("database") || user }, parameters: sent };
  }
  if (routeBy === "user") return { subject: { kind: "user", value: user }, parameters: sent };
  if (routeBy === "sni") {
    if (!serverName) {
      throw new SqlStateError(
        "08004",
        "this server routes by TLS server name: connect with SSL and a host name (sslmode=require)",
      );
    }
    return { subject: { kind: "server name", value: serverName }, parameters: sent };
  }
  const { value, rest } = takeOption(sent.get("options") ?? "", routeBy.option);
  if (value === undefined || value === "") {
    throw new SqlStateError(
      "08004",
      `this server routes by the option ${routeBy.option}: connect with options='-c ${routeBy.option}=…'`,
    );
  }
  if (rest === "") sent.delete("options");
  else sent.set("options", rest);
  return { subject: { kind: `option ${routeBy.option}`, value }, parameters: sent };
}
