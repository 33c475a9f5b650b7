// The shared secret every non-public request must present. Created once,
// crypto-random, readable by its owner only (0600); compared in constant time.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { link, readFile, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ensureSocketDir } from "./socket-dir.ts";

export const TOKEN_FILE_NAME = "token";
const TOKEN_BYTES = 32;

export function tokenPathFor(socketDir: string): string {
  return join(socketDir, TOKEN_FILE_NAME);
}

/**
 * Reads the token file, creating it (and its directory) on first use. Safe
 * against a concurrent creator: the token is written to a file of its own
 * and linked into place, so the token file appears whole or not at all, and
 * of two creators the first link wins.
 */
export async function loadOrCreateToken(path: string): Promise<string> {
  const existing = await readToken(path);
  if (existing !== undefined) return existing;
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  await ensureSocketDir(join(path, ".."));
  const draft = `${path}.${randomBytes(6).toString("hex")}`;
  await writeFile(draft, `${token}\n`, { mode: 0o600, flag: "wx" });
  try {
    await link(draft, path);
    return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const winner = await readToken(path);
    if (winner === undefined) throw new Error(`token file ${path} exists but is empty`);
    return winner;
  } finally {
    await unlink(draft);
  }
}

async function readToken(path: string): Promise<string | undefined> {
  try {
    const token = (await readFile(path, "utf8")).trim();
    return token.length > 0 ? token : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Checks a presented token against the expected one in constant time. Only
 * the length can be learnt from timing, and token files all have the same.
 */
export class TokenCheck {
  readonly #expected: Buffer;

  constructor(token: string) {
    this.#expected = Buffer.from(token);
  }

  matches(presented: unknown): boolean {
    if (typeof presented !== "string") return false;
    if (Buffer.byteLength(presented) !== this.#expected.length) return false;
    return timingSafeEqual(Buffer.from(presented), this.#expected);
  }
}
