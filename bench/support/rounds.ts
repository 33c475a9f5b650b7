// The database benchmarks' shape: one load tool (pgbench, sysbench) run
// against several targets (the server alone first, then Nexus and its peers)
// in interleaved rounds, one round kept per target, each with its ratio to
// the server alone, written to bench/results and to a table in the docs.
import { parseArgs } from "node:util";
import {
  machine,
  markdownTable,
  nexusRatios,
  publishTable,
  roundsNote,
  writeResults,
} from "./report.ts";

/** The command line's `--seconds` per round (default 15) and `--rounds` (default 3). */
export function roundsFlags(): { seconds: number; rounds: number } {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "15" },
      rounds: { type: "string", default: "3" },
    },
  });
  return { seconds: Number(values.seconds), rounds: Number(values.rounds) };
}

/** A name for the tables and the loopback port the load tool connects to. */
export type Target = readonly [name: string, port: number];

/**
 * Runs every target once per round. Each round starts one target later, so
 * a busy moment of the machine, or being first, favours no target.
 */
export async function measureInRounds<M>(
  targets: readonly Target[],
  rounds: number,
  measure: (target: string, port: number) => Promise<M>,
): Promise<M[]> {
  const measurements: M[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < targets.length; i++) {
      const [target, port] = targets[(round + i) % targets.length]!;
      console.error(`round ${round + 1}: ${target}…`);
      measurements.push(await measure(target, port));
    }
  }
  return measurements;
}

/**
 * One round per target, in `targets` order: the median or the best by
 * `score`, with `ratio` = its score / the first target's (the server alone).
 */
function roundPerTarget<M extends { readonly target: string }>(
  targets: readonly Target[],
  measurements: readonly M[],
  keep: "median" | "best",
  score: (measurement: M) => number,
): (M & { ratio: number })[] {
  const kept = targets.map(([target]) => {
    const runs = measurements
      .filter((m) => m.target === target)
      .sort((a, b) => score(a) - score(b));
    if (runs.length === 0) throw new Error(`no rounds for ${target}`);
    return keep === "best" ? runs.at(-1)! : runs[Math.floor((runs.length - 1) / 2)]!;
  });
  const direct = score(kept[0]!);
  return kept.map((m) => ({ ...m, ratio: Number((score(m) / direct).toFixed(3)) }));
}

/** The number captured by `pattern`'s first group in a load tool's output. */
export function numberIn(output: string, pattern: RegExp, tool: string): number {
  const match = pattern.exec(output);
  if (!match?.[1]) throw new Error(`${tool} output lacks ${pattern}:\n${output}`);
  return Number(match[1]);
}

/** What every round records besides the load tool's figures. */
export interface Round {
  readonly target: string;
  /** The machine's 1-minute load average after the round: others' work skews figures. */
  readonly loadAverage: number;
}

/** The names of `M`'s numeric figures. */
type NumberKey<M> = { [K in keyof M]: M[K] extends number ? K : never }[keyof M] & string;

export interface RoundsReport<M extends Round> {
  /** bench/results/<name>.json, and the `<!-- bench:<name> -->` table in `doc`. */
  readonly name: string;
  readonly doc: string;
  /** The load tool and its test, as the results file names it. */
  readonly benchmark: string;
  /** The server's name and version, when the benchmark asks the server. */
  readonly server?: string;
  readonly settings: { readonly seconds: number; readonly rounds: number };
  /** How the kept round is chosen, and by which figure of the measurements. */
  readonly keep: "median" | "best";
  readonly score: NumberKey<M>;
  /** Nexus's peer among the targets, and Nexus's goal as a ratio to direct. */
  readonly peer: { readonly target: string; readonly name: string };
  readonly goal: number;
  /** The load the tool applied, first in the line under the table: "16 clients". */
  readonly load: string;
  /** The table's columns between "target" and "vs direct": header and cell. */
  readonly columns: readonly (readonly [header: string, cell: (row: M) => string])[];
  /** The 1-minute load average before the benchmark added its own. */
  readonly loadAtStart: number;
  readonly targets: readonly Target[];
  readonly measurements: readonly M[];
}

/**
 * Keeps one round per target (see roundPerTarget), writes them with every
 * round to bench/results/<name>.json, and prints and publishes the table
 * with a line of Nexus's ratios, how the rounds ran and the machine's load.
 */
export async function publishRounds<M extends Round>(report: RoundsReport<M>): Promise<void> {
  const { keep, score, settings, loadAtStart, measurements } = report;
  const rows = roundPerTarget(report.targets, measurements, keep, (m) => m[score] as number);
  await writeResults(report.name, {
    benchmark: report.benchmark,
    date: new Date().toISOString(),
    machine: machine(),
    ...(report.server === undefined ? {} : { server: report.server }),
    settings,
    note: `${keep} of the rounds per target; ratio = ${score} / direct ${score}; loadAverage = 1-minute load after the round`,
    loadAtStart,
    results: rows,
    rounds: measurements,
  });
  const table = markdownTable(
    ["target", ...report.columns.map(([header]) => header), "vs direct", "load average"],
    rows.map((row) => [
      row.target,
      ...report.columns.map(([, cell]) => cell(row)),
      `${row.ratio.toFixed(2)}×`,
      String(row.loadAverage),
    ]),
  );
  const loads = measurements.map((m) => m.loadAverage);
  const summary =
    `${nexusRatios(rows, report.peer, report.goal)} ` +
    `${report.load}, ${roundsNote({ ...settings, keep }, loadAtStart, loads)}`;
  await publishTable(report.doc, report.name, table, summary);
}
