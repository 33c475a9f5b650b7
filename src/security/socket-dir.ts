// Where services listen: one directory (mode 0770) holding `<name>.sock`,
// `<name>@<n>.sock` for extra instances, and the token file.
import { chmod, mkdir } from "node:fs/promises";
import { join } from "node:path";

export const DEFAULT_SOCKET_DIR = "/tmp/nexus";
export const DIRECTORY_MODE = 0o770;
export const SOCKET_MODE = 0o660;

/** An explicit directory, else NEXUS_SOCKET_DIR, else /tmp/nexus. */
export function resolveSocketDir(explicit?: string): string {
  return explicit ?? process.env.NEXUS_SOCKET_DIR ?? DEFAULT_SOCKET_DIR;
}

/** The socket of a service's first instance (instance 0), or of instance n. */
export function socketPathFor(dir: string, service: string, instance = 0): string {
  return join(dir, instance === 0 ? `${service}.sock` : `${service}@${instance}.sock`);
}

/** Parses a socket file name back to its service and instance; undefined for other files. */
export function parseSocketName(
  fileName: string,
): { service: string; instance: number } | undefined {
  const match = /^([A-Za-z0-9][A-Za-z0-9_-]*)(?:@([1-9][0-9]*))?\.sock$/.exec(fileName);
  if (match === null) return undefined;
  return { service: match[1]!, instance: match[2] === undefined ? 0 : Number(match[2]) };
}

/** Creates the directory if needed and sets it to 0770. */
export async function ensureSocketDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: DIRECTORY_MODE });
  await chmod(dir, DIRECTORY_MODE);
}
