// Prints a log file's last lines, then (when following) what is appended,
// across rotations: when the file is replaced or shrinks, reading starts
// again at the top of the new file.
import { type Stats, unwatchFile, watchFile } from "node:fs";
import { open, readFile } from "node:fs/promises";

const POLL_MS = 250;

/** The last `count` lines, and the offset where following should continue. */
export async function lastLines(
  path: string,
  count: number,
): Promise<{ text: string; end: number }> {
  const content = await readFile(path);
  const lines = content.toString("utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  const text = lines.length === 0 || count === 0 ? "" : `${lines.slice(-count).join("\n")}\n`;
  return { text, end: content.length };
}

/** Writes what is appended to `path` after `offset` until `signal` aborts. */
export async function follow(
  path: string,
  offset: number,
  write: (chunk: Buffer) => void,
  signal: AbortSignal,
): Promise<void> {
  let position = offset;
  let reading = Promise.resolve();
  const readFrom = async (current: Stats, previous: Stats) => {
    if (current.ino !== previous.ino || current.size < position) position = 0;
    if (current.size <= position) return;
    const file = await open(path, "r");
    try {
      const length = current.size - position;
      const { buffer, bytesRead } = await file.read(Buffer.alloc(length), 0, length, position);
      position += bytesRead;
      write(buffer.subarray(0, bytesRead));
    } finally {
      await file.close();
    }
  };
  const listener = (current: Stats, previous: Stats) => {
    reading = reading.then(() => readFrom(current, previous)).catch(() => {});
  };
  watchFile(path, { interval: POLL_MS }, listener);
  await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
  unwatchFile(path, listener);
  await reading;
}
