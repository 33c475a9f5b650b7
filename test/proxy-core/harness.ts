// Shared by the proxy-core tests: real backends on loopback (one that
// echoes, one that refuses, one that never accepts: a process whose accept
// queue is full), a way to wait on events instead of sleeping, and a
// ResolverError expectation.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { ResolverError } from "../../src/proxy/core/resolver-error.ts";
import { freePort } from "../support/ports.ts";

export interface Backend {
  readonly server: Server;
  readonly port: number;
  readonly endpoint: string;
  readonly accepted: Socket[];
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1 that echoes what it reads. */
export async function echoBackend(port = 0): Promise<Backend> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => {
    accepted.push(socket);
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  const bound = (server.address() as { port: number }).port;
  return {
    server,
    port: bound,
    endpoint: `127.0.0.1:${bound}`,
    accepted,
    close: async () => {
      for (const socket of accepted) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

/** A loopback port nothing listens on: connecting is refused. */
export function refusedPort(): Promise<number> {
  return freePort();
}

/**
 * A backend whose connects hang: a child process listens with a backlog of 1
 * and never accepts; once its queue is full the kernel drops further SYNs.
 */
export async function hangingBackend(): Promise<{ endpoint: string; close(): void }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "-e",
      `const s = require("node:net").createServer();
       s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
         process.stdout.write(String(s.address().port) + "\\n");
         Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
       });`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  const port = Number(chunk.toString().trim());
  const fillers: Socket[] = [];
  // Fill the accept queue; connects beyond it stay pending.
  for (let i = 0; i < 4; i++) {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    fillers.push(socket);
  }
  await Promise.race(fillers.slice(0, 2).map((socket) => once(socket, "connect")));
  return {
    endpoint: `127.0.0.1:${port}`,
    close: () => {
      for (const socket of fillers) socket.destroy();
      child.kill("SIGKILL");
    },
  };
}

/** Resolves the next time `predicate` holds, checked whenever `poke` is called. */
export class Condition {
  readonly #predicate: () => boolean;
  #waiters: (() => void)[] = [];

  constructor(predicate: () => boolean) {
    this.#predicate = predicate;
  }

  poke(): void {
    if (!this.#predicate()) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  wait(): Promise<void> {
    if (this.#predicate()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** The ResolverError `work` rejects with; fails the test if it resolves or rejects otherwise. */
export async function rejection(work: Promise<unknown>): Promise<ResolverError> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof ResolverError, String(error));
    return error;
  }
  assert.fail("expected a ResolverError");
}
