// Shared pieces of the PostgreSQL proxy tests: a proxy on an ephemeral port
// in front of static routes, throwaway databases, and the psql client.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { after, before } from "node:test";
import pg from "pg";
import type { BackendRouter, Resolver, StaticRoutes } from "../../src/proxy/core/index.ts";
import { PostgresProxy, type PostgresProxyOptions } from "../../src/proxy/postgres/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";
import { postgres, requireService } from "../support/services.ts";

export const MAIN_SERVER = `${postgres.host}:${postgres.port}`;

export interface RunningProxy {
  readonly proxy: PostgresProxy;
  readonly port: number;
  close(): Promise<void>;
}

/** A router for tests: backends run on loopback, which the SSRF guard allows here. */
export function testRouter(resolver: Resolver): BackendRouter {
  return loopbackRouter(resolver);
}

export async function startProxy(
  routes: StaticRoutes,
  options: Omit<PostgresProxyOptions, "router"> = {},
): Promise<RunningProxy> {
  const proxy = new PostgresProxy({ router: loopbackRouter(routes), ...options });
  const { port } = await proxy.listen(0, "127.0.0.1");
  return { proxy, port, close: () => proxy.close() };
}

/**
 * A proxy started before this file's tests and closed after them; `port` and
 * `proxy` are read once it runs.
 */
export function proxyForTests(
  routes: StaticRoutes,
  options: Omit<PostgresProxyOptions, "router"> = {},
): RunningProxy {
  let running: RunningProxy | undefined;
  before(async () => {
    running = await startProxy(routes, options);
  });
  after(async () => {
    await running?.close();
  });
  const started = () => running ?? assert.fail("the proxy runs only inside tests");
  return {
    get proxy() {
      return started().proxy;
    },
    get port() {
      return started().port;
    },
    close: () => started().close(),
  };
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

/**
 * A raw TCP connection to a local port. Its errors (a reset when the proxy
 * hangs up) are left to the reads and closes the test awaits.
 */
export function rawSocket(port: number): Socket {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  return socket;
}

/**
 * Sends raw bytes to a port (then half-closes when `end` is set) and collects
 * everything the peer sends until it closes, or until `timeoutMs` passes:
 * then the connection is cut and the bytes so far are returned.
 */
export function rawExchange(
  port: number,
  bytes: Buffer,
  { end = false, timeoutMs = 20_000 } = {},
): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket = rawSocket(port);
    const received: Buffer[] = [];
    socket.on("data", (chunk) => received.push(chunk));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.once("close", () => resolve(Buffer.concat(received)));
    if (end) socket.end(bytes);
    else socket.write(bytes);
  });
}

/** The SQLSTATE of the first ErrorResponse in `bytes`, if it starts with one. */
export function errorCode(bytes: Buffer): string | undefined {
  if (bytes.length < 5 || bytes[0] !== 0x45) return undefined;
  const fields = bytes
    .subarray(5, 1 + bytes.readInt32BE(1))
    .toString("utf8")
    .split("\0");
  return fields.find((field) => field.startsWith("C"))?.slice(1);
}

/** A StartupMessage for protocol 3.`minor` with the given parameters. */
export function startupMessage(parameters: Record<string, string>, minor = 0): Buffer {
  const body = Buffer.from(
    `${Object.entries(parameters)
      .map(([name, value]) => `${name}\0${value}\0`)
      .join("")}\0`,
  );
  const header = Buffer.alloc(8);
  header.writeInt32BE(8 + body.length, 0);
  header.writeInt32BE((3 << 16) | minor, 4);
  return Buffer.concat([header, body]);
}

/** An 8-byte request packet: SSLRequest (80877103) or GSSENCRequest (80877104). */
export function requestPacket(code: number): Buffer {
  const packet = Buffer.alloc(8);
  packet.writeInt32BE(8, 0);
  packet.writeInt32BE(code, 4);
  return packet;
}

/** A pg client (not yet connected) for `database` through the proxy on `port`. */
export function proxyClient(port: number, database: string): pg.Client {
  return new pg.Client({ host: "127.0.0.1", port, user: "postgres", database });
}

/** Resolves once a query containing `marker` runs on the server `observer` is connected to. */
export async function waitUntilRunning(observer: pg.Client, marker: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    const { rows } = await observer.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
      [`%${marker}%`],
    );
    if (rows[0].n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the query ${marker} never started`);
}

/**
 * Cancels `victim`'s running query the way pg does: a second client sends a
 * CancelRequest with the first one's key to the same address.
 */
export function cancelWithPg(victim: pg.Client, port: number): void {
  const canceller = proxyClient(port, "postgres") as unknown as {
    cancel(client: pg.Client, query: unknown): void;
  };
  canceller.cancel(victim, (victim as unknown as { activeQuery: unknown }).activeQuery);
}

/** A CancelRequest (80877102) for a process id and a 4-byte (3.0) or longer (3.2) key. */
export function cancelPacket(processId: number, secretKey: number | Buffer): Buffer {
  const key = typeof secretKey === "number" ? Buffer.alloc(4) : secretKey;
  if (typeof secretKey === "number") key.writeInt32BE(secretKey | 0, 0);
  const packet = Buffer.alloc(12 + key.length);
  packet.writeInt32BE(packet.length, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processId, 8);
  key.copy(packet, 12);
  return packet;
}

/** A simple Query ('Q') message. */
export function queryMessage(sql: string): Buffer {
  const body = Buffer.from(`${sql}\0`);
  const header = Buffer.alloc(5);
  header.write("Q", 0, "latin1");
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

export interface Message {
  readonly type: string;
  readonly body: Buffer;
}

/** Reads server messages from `stream` until ReadyForQuery or an ErrorResponse. */
export async function readUntilReady(stream: Duplex): Promise<Message[]> {
  const messages: Message[] = [];
  let buffered = Buffer.alloc(0);
  for (;;) {
    const [chunk] = (await once(stream, "data")) as [Buffer];
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5 && buffered.length >= 1 + buffered.readInt32BE(1)) {
      const end = 1 + buffered.readInt32BE(1);
      const message = { type: String.fromCharCode(buffered[0]!), body: buffered.subarray(5, end) };
      messages.push(message);
      buffered = buffered.subarray(end);
      if (message.type === "Z" || message.type === "E") return messages;
    }
  }
}
