// Puts a listening socket at its final path without ever stealing a live one.
//
// The server always binds a private temporary path, then moves it into
// place: link() when the path must be free (it fails if someone else got
// there first), rename() when replacing a live socket on purpose (zero-
// downtime reload). Binding a temporary path also matters on close: libuv
// unlinks the path a socket was bound to, which must never be the shared
// final path a successor may already own.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { chmod, link, rename, stat, unlink } from "node:fs/promises";
import { connect, type Server } from "node:net";
import { dirname, join } from "node:path";
import { SOCKET_MODE } from "../security/socket-dir.ts";

export class SocketInUseError extends Error {
  readonly code = "ERR_NEXUS_SOCKET_IN_USE";
  constructor(path: string) {
    super(
      `another process is listening on ${path}; refusing to take it over ` +
        "(stop it first, or start with the replace option for a zero-downtime swap)",
    );
    this.name = "SocketInUseError";
  }
}

/** What is at a socket path: nothing, a socket nobody answers on, or a live server. */
export async function probeSocket(path: string): Promise<"absent" | "stale" | "live"> {
  try {
    await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw error;
  }
  const socket = connect(path);
  try {
    await once(socket, "connect");
    return "live";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ECONNREFUSED" || code === "ENOENT") return "stale";
    throw error;
  } finally {
    socket.destroy();
  }
}

export interface BoundSocket {
  readonly path: string;
  /** The socket file's inode: on close, the path is removed only if it is still ours. */
  readonly inode: number;
}

/** Listens on a temporary path, then moves the socket to `path` (see the file comment). */
export async function bindSocket(
  server: Server,
  path: string,
  replace: boolean,
): Promise<BoundSocket> {
  if (!replace) {
    const state = await probeSocket(path);
    if (state === "live") throw new SocketInUseError(path);
    if (state === "stale") await unlink(path).catch(ignoreMissing);
  }
  // Short, so it fits the 107-byte limit of socket paths wherever the final name does.
  const temporary = join(dirname(path), `.${randomBytes(4).toString("hex")}.tmp`);
  server.listen(temporary);
  await once(server, "listening");
  try {
    await chmod(temporary, SOCKET_MODE);
    if (replace) {
      await rename(temporary, path);
    } else {
      try {
        await link(temporary, path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "EEXIST") throw new SocketInUseError(path);
        throw error;
      }
      await unlink(temporary);
    }
    return { path, inode: (await stat(path)).ino };
  } catch (error) {
    server.close();
    await unlink(temporary).catch(ignoreMissing);
    throw error;
  }
}

/** Removes the socket file if the path still holds our socket (a successor may have replaced it). */
export async function releaseSocket(bound: BoundSocket): Promise<void> {
  try {
    if ((await stat(bound.path)).ino === bound.inode) await unlink(bound.path);
  } catch (error) {
    ignoreMissing(error);
  }
}

function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
}
