// Shared pieces of the PostgreSQL proxy tests: a proxy on an ephemeral port
// in front of static routes, throwaway databases, and the psql client.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { BackendRouter, StaticResolver, type StaticRoutes } from "../../src/proxy/core/index.ts";
import { PostgresProxy, type PostgresProxyOptions } from "../../src/proxy/postgres/index.ts";
import { postgres, requireService } from "../support/services.ts";

export const MAIN_SERVER = `${postgres.host}:${postgres.port}`;

export interface RunningProxy {
  readonly proxy: PostgresProxy;
  readonly port: number;
  close(): Promise<void>;
}

export async function startProxy(
  routes: StaticRoutes,
  options: Omit<PostgresProxyOptions, "router"> = {},
): Promise<RunningProxy> {
  const router = new BackendRouter({ resolver: new StaticResolver(routes) });
  const proxy = new PostgresProxy({ router, ...options });
  const { port } = await proxy.listen(0, "127.0.0.1");
  return { proxy, port, close: () => proxy.close() };
}

/** A database name no other test uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

/** Connects straight to a server (not through the proxy). */
export async function directClient(
  port = postgres.port,
  database = "postgres",
): Promise<pg.Client> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database });
  await client.connect();
  return client;
}

/** Creates databases on a server and returns a function that drops them again. */
export async function createDatabases(
  names: readonly string[],
  port = postgres.port,
): Promise<() => Promise<void>> {
  if (port === postgres.port) await requireService(postgres);
  const admin = await directClient(port);
  try {
    for (const name of names) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return async () => {
    const dropper = await directClient(port);
    try {
      for (const name of names) await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await dropper.end();
    }
  };
}

export interface PsqlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs psql with a connection string and one command; never rejects. */
export function psql(conninfo: string, command: string): Promise<PsqlResult> {
  return new Promise((resolve) => {
    execFile(
      "psql",
      ["--no-psqlrc", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", command],
      { env: { ...process.env, PGCONNECT_TIMEOUT: "20" }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
      },
    );
  });
}
