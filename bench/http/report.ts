// Where the proxy benchmarks put their results: bench/results/<name>.json,
// and the Markdown table between `<!-- bench:<name> -->` and
// `<!-- /bench:<name> -->` markers in a doc, so the docs always show the
// latest run.
import { readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";

const ROOT = new URL("../../", import.meta.url);

export function machine(): { cpus: number; model: string; node: string } {
  return { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version };
}

export async function writeResults(name: string, results: unknown): Promise<void> {
  const path = new URL(`bench/results/${name}.json`, ROOT);
  await writeFile(path, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote bench/results/${name}.json`);
}

export async function updateDocTable(doc: string, name: string, markdown: string): Promise<void> {
  const path = new URL(doc, ROOT);
  const text = await readFile(path, "utf8");
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${doc} lacks the ${start} … ${end} markers`);
  await writeFile(
    path,
    `${text.slice(0, from + start.length)}\n${markdown.trim()}\n${text.slice(to)}`,
  );
  console.log(`updated the table in ${doc}`);
}

export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
