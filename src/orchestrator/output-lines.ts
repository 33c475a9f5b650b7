// Splits a child's output stream into lines for the log file. A line longer
// than `maxChars` is cut into pieces of at most that length (never inside a
// character), so a service printing without newlines never makes the
// supervisor hold more than that.
import type { Readable } from "node:stream";

export const MAX_LINE_CHARS = 16 * 1024;

export function forEachLine(
  stream: Readable,
  onLine: (line: string) => void,
  maxChars = MAX_LINE_CHARS,
): void {
  let pending = "";
  /** Emits the longest well-formed piece of `text` that fits; returns the rest. */
  const emitPiece = (text: string): string => {
    const high = text.charCodeAt(maxChars - 1);
    const cut = high >= 0xd800 && high <= 0xdbff ? maxChars - 1 : maxChars;
    onLine(text.slice(0, cut));
    return text.slice(cut);
  };
  const emitLine = (line: string) => {
    let rest = line.endsWith("\r") ? line.slice(0, -1) : line;
    while (rest.length > maxChars) rest = emitPiece(rest);
    onLine(rest);
  };
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    pending += chunk;
    let start = 0;
    for (let newline = pending.indexOf("\n"); newline !== -1; ) {
      emitLine(pending.slice(start, newline));
      start = newline + 1;
      newline = pending.indexOf("\n", start);
    }
    pending = pending.slice(start);
    while (pending.length > maxChars) pending = emitPiece(pending);
  });
  stream.on("end", () => {
    if (pending.length > 0) emitLine(pending);
    pending = "";
  });
}
