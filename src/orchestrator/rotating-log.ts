// One service's log file, rotated by size: when `users.log` would grow past
// `maxBytes`, it becomes `users.log.1` (older ones shift up to `.keep`, the
// oldest is deleted) and a fresh file starts. Writes are synchronous appends
// of whole lines, so lines from several instances never interleave and the
// supervisor holds no growing buffer.
import { closeSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export interface RotatingLogOptions {
  readonly maxBytes: number;
  /** How many rotated files to keep. */
  readonly keep: number;
}

export class RotatingLog {
  readonly path: string;
  readonly #options: RotatingLogOptions;
  #fd: number;
  #size: number;

  constructor(path: string, options: RotatingLogOptions) {
    this.path = path;
    this.#options = options;
    mkdirSync(dirname(path), { recursive: true });
    this.#fd = openSync(path, "a", 0o640);
    this.#size = statSync(path).size;
  }

  writeLine(line: string): void {
    const bytes = Buffer.from(`${line}\n`);
    if (this.#size > 0 && this.#size + bytes.length > this.#options.maxBytes) this.#rotate();
    writeSync(this.#fd, bytes);
    this.#size += bytes.length;
  }

  close(): void {
    closeSync(this.#fd);
  }

  #rotate(): void {
    closeSync(this.#fd);
    const { keep } = this.#options;
    rmSync(`${this.path}.${keep}`, { force: true });
    for (let n = keep - 1; n >= 1; n -= 1)
      renameIfPresent(`${this.path}.${n}`, `${this.path}.${n + 1}`);
    if (keep > 0) renameSync(this.path, `${this.path}.1`);
    else rmSync(this.path, { force: true });
    this.#fd = openSync(this.path, "a", 0o640);
    this.#size = 0;
  }
}

function renameIfPresent(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}
