// Prints where each CPU profile written by `run.ts --cpu-prof DIR` spent its
// busy time (idle excluded): the functions with the most self time, and
// the same time grouped by source file.
//
//   node bench/rpc/profile-summary.ts DIR [--top 15]
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface CpuProfile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** A short place name: the path inside the project or a package; native code by its name. */
function fileOf(frame: CallFrame): string {
  if (frame.url === "") return `(native) ${frame.functionName || "anonymous"}`;
  if (frame.url.startsWith("node:")) return "(node internals)";
  const packaged = /node_modules\/(.*)$/.exec(frame.url);
  if (packaged) return packaged[1]!;
  const path = frame.url.replace(/^file:\/\//, "");
  return path.slice(path.lastIndexOf("/src/") + 1 || path.lastIndexOf("/bench/") + 1);
}

function summarize(profile: CpuProfile, top: number): string[] {
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const frame = frames.get(id);
    const micros = profile.timeDeltas[index] ?? 0;
    if (frame === undefined || frame.functionName === "(idle)") return;
    const file = fileOf(frame);
    const fn =
      frame.url === ""
        ? file
        : `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros);
    byFile.set(file, (byFile.get(file) ?? 0) + micros);
    busy += micros;
  });
  const rows = (totals: Map<string, number>) =>
    [...totals]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => `  ${((micros / busy) * 100).toFixed(1).padStart(5)} %  ${name}`);
  return [
    `busy ${Math.round(busy / 1000)} ms`,
    "by function (self time):",
    ...rows(byFunction),
    "by file:",
    ...rows(byFile),
  ];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: "string", default: "15" } },
});
const dir = positionals[0];
if (dir === undefined) throw new Error("usage: profile-summary.ts DIR [--top N]");
for (const name of (await readdir(dir)).filter((file) => file.endsWith(".cpuprofile")).sort()) {
  const profile = JSON.parse(await readFile(join(dir, name), "utf8")) as CpuProfile;
  console.log(`== ${name}`);
  console.log(summarize(profile, Number(values.top)).join("\n"));
}
