// Where the proxy benchmarks put their results: bench/results/<name>.json,
// and the Markdown table between `<!-- bench:<name> -->` and
// `<!-- /bench:<name> -->` markers in a doc, so the docs always show the
// latest run.
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";

const ROOT = new URL("../../", import.meta.url);

export function machine(): { cpus: number; model: string; node: string } {
  return { cpus: cpus().length, model: cpus()[0]?.model ?? "unknown", node: process.version };
}

/** The machine's 1-minute load average: others' work on the cores skews every figure. */
export function loadAverage(): number {
  return Number((loadavg()[0] ?? Number.NaN).toFixed(2));
}

/**
 * Nexus against the server alone and against its peer, from rows whose
 * `ratio` is to the `direct` row: "Nexus: 0.91× direct (target 0.9×), 1.24× PgBouncer."
 */
export function nexusRatios(
  rows: readonly { readonly target: string; readonly ratio: number }[],
  peer: { readonly target: string; readonly name: string },
  goal: number,
): string {
  const ratioOf = (target: string): number => {
    const row = rows.find((r) => r.target === target);
    if (!row) throw new Error(`no ${target} row in the results`);
    return row.ratio;
  };
  const nexus = ratioOf("nexus");
  return `Nexus: ${nexus.toFixed(2)}× direct (target ${goal}×), ${(nexus / ratioOf(peer.target)).toFixed(2)}× ${peer.name}.`;
}

/** How busy the machine was around a run, with the date: the line under each table. */
export function loadNote(atStart: number, afterRounds: readonly number[]): string {
  const range = `${Math.min(...afterRounds)}–${Math.max(...afterRounds)}`;
  const date = new Date().toISOString().slice(0, 10);
  return `${cpus().length} CPUs shared by everything; 1-minute load average ${atStart} at the start, ${range} after the rounds (${date}).`;
}

/** How the rounds ran and how busy the machine was: the end of the line under a table. */
export function roundsNote(
  run: { readonly seconds: number; readonly rounds: number; readonly keep: "median" | "best" },
  loadAtStart: number,
  loadsAfterRounds: readonly number[],
): string {
  const kept = run.keep === "best" ? "best" : "median";
  return `${run.seconds} s per round, ${kept} of ${run.rounds} rounds, ${loadNote(loadAtStart, loadsAfterRounds)}`;
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

/** Prints a benchmark's table and the line under it, and puts both in `doc` (see updateDocTable). */
export async function publishTable(
  doc: string,
  name: string,
  table: string,
  summary: string,
): Promise<void> {
  console.log(`\n${table}\n\n${summary}`);
  await updateDocTable(doc, name, `${table}\n\n${summary}`);
}

export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}
