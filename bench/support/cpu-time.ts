// The CPU time that each part of a database benchmark spends in a round,
// from Linux /proc: the proxy, the server and the load tool. Per query these
// do not depend on how busy the machine is, unlike the throughput, so they
// show what a proxy hop costs and what the server and client cost without it.
// The machine's whole busy time is read too: work the kernel does in its own
// threads (a spliced relay's sends, say) belongs to none of those processes.
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** Microseconds per clock tick of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK_US = 10_000;
/**
 * How long after the load tool exits the round's CPU is read: PostgreSQL
 * backends exit after their client and their time reaches the postmaster
 * only once they are reaped (read at once, a round lost up to half of it).
 */
const SETTLE_MS = 500;

/** The machine's busy time so far, all CPUs, in µs: everything but idle, I/O wait and steal. */
export async function machineCpu(): Promise<number> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n", 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq] = line.split(/\s+/).slice(1).map(Number) as number[];
  return (user! + nice! + system! + irq! + softirq!) * TICK_US;
}

/** A process's CPU time so far, in µs. */
export type CpuMeter = () => Promise<number>;

interface Times {
  /** User + system time of the process itself. */
  readonly own: number;
  /** User + system time of the children it has waited for. */
  readonly reaped: number;
}

async function timesOf(pid: number): Promise<Times> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (stat === "") return { own: 0, reaped: 0 };
  // The fields after "(command)", which may hold spaces, start with the state (field 3).
  const fields = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  // utime, stime, cutime, cstime are fields 14 to 17.
  const [utime, stime, cutime, cstime] = fields.slice(11, 15) as [number, number, number, number];
  return { own: (utime + stime) * TICK_US, reaped: (cutime + cstime) * TICK_US };
}

async function childrenOf(pid: number): Promise<number[]> {
  const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return text.trim() === "" ? [] : text.trim().split(/\s+/).map(Number);
}

/** This one process alone: the benchmark's own, where an in-process proxy runs. */
export function processCpu(pid: number): CpuMeter {
  return async () => (await timesOf(pid)).own;
}

/** The children `pid` has waited for: the benchmark's, which are the load tool's runs. */
export function reapedCpu(pid: number): CpuMeter {
  return async () => (await timesOf(pid)).reaped;
}

/** A process with all its descendants, live or waited for: a server, or a proxy with its workers. */
export function treeCpu(pid: number): CpuMeter {
  return async () => {
    const { own, reaped } = await timesOf(pid);
    let total = own + reaped;
    for (const child of await childrenOf(pid)) total += await treeCpu(child)();
    return total;
  };
}

/** A pid's parent, from /proc: a PostgreSQL backend's is the postmaster. */
export async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

export interface RoundCpu<T> {
  readonly result: T;
  /** µs of CPU each part used during the round; the proxy's is 0 without one. */
  readonly proxyUs: number;
  readonly serverUs: number;
  readonly toolUs: number;
  /** The whole machine's, kernel threads and interrupts included. */
  readonly machineUs: number;
}

/** Whose CPU time counts as the proxy (none for the server alone) and as the server. */
export interface CpuParts {
  readonly proxy: CpuMeter | undefined;
  readonly server: CpuMeter;
}

/** Runs one round of the load tool and measures the CPU each part spent on it. */
export async function measureCpu<T>(
  parts: CpuParts,
  round: () => Promise<T>,
): Promise<RoundCpu<T>> {
  const tool = reapedCpu(process.pid);
  const proxy = parts.proxy ?? (async () => 0);
  const before = await Promise.all([proxy(), parts.server(), tool(), machineCpu()]);
  const result = await round();
  // The machine's time stops with the round; the processes' time is read once it has reached them.
  const machineAfter = await machineCpu();
  await sleep(SETTLE_MS);
  const after = await Promise.all([proxy(), parts.server(), tool()]);
  const [proxyUs, serverUs, toolUs] = after.map((value, i) => value - before[i]!) as [
    number,
    number,
    number,
  ];
  return { result, proxyUs, serverUs, toolUs, machineUs: machineAfter - before[3]! };
}

/** A round's CPU time per query (or transaction), in µs with one decimal. */
export interface CpuPerUnit {
  readonly proxyCpuUs: number;
  readonly serverCpuUs: number;
  readonly clientCpuUs: number;
  readonly machineCpuUs: number;
}

export function cpuPerUnit(cpu: Omit<RoundCpu<unknown>, "result">, units: number): CpuPerUnit {
  const per = (us: number) => Number((us / units).toFixed(1));
  return {
    proxyCpuUs: per(cpu.proxyUs),
    serverCpuUs: per(cpu.serverUs),
    clientCpuUs: per(cpu.toolUs),
    machineCpuUs: per(cpu.machineUs),
  };
}

/** Proxy, server and load tool together: what one query costs the machine. */
export function totalCpu(cpu: CpuPerUnit): number {
  return cpu.proxyCpuUs + cpu.serverCpuUs + cpu.clientCpuUs;
}
