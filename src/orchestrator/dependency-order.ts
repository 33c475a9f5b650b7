// Start order from `dependsOn`: waves of services whose dependencies are all
// in earlier waves. Services in one wave start together; stopping walks the
// waves backwards.

export class DependencyCycleError extends Error {
  readonly cycle: readonly string[];

  constructor(cycle: readonly string[]) {
    super(`dependency cycle: ${cycle.join(" -> ")}`);
    this.name = "DependencyCycleError";
    this.cycle = cycle;
  }
}

/** `dependencies` maps each service to the services it needs; unknown names are ignored. */
export function startWaves(dependencies: Readonly<Record<string, readonly string[]>>): string[][] {
  const pending = new Map(
    Object.entries(dependencies).map(([name, needs]) => [
      name,
      needs.filter((need) => need in dependencies && need !== name),
    ]),
  );
  const started = new Set<string>();
  const waves: string[][] = [];
  while (pending.size > 0) {
    const wave = [...pending].filter(([, needs]) => needs.every((n) => started.has(n)));
    if (wave.length === 0) throw new DependencyCycleError(findCycle(pending));
    for (const [name] of wave) {
      pending.delete(name);
      started.add(name);
    }
    waves.push(wave.map(([name]) => name));
  }
  return waves;
}

/** Walks dependencies from any blocked service until a name repeats. */
function findCycle(pending: ReadonlyMap<string, readonly string[]>): string[] {
  const path: string[] = [];
  let current = pending.keys().next().value as string;
  while (!path.includes(current)) {
    path.push(current);
    current = pending.get(current)?.find((need) => pending.has(need)) ?? current;
  }
  return [...path.slice(path.indexOf(current)), current];
}
