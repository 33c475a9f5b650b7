// Renders `nexus status`: one row per instance (a service without a running
// instance gets one row), then the proxy's routes with the cold starts of
// each service, then why errored services failed, with their last lines of
// output.
import type { ServiceReport } from "../orchestrator/orchestrator.ts";
import type { ServiceSnapshot } from "../orchestrator/service-supervisor.ts";

const HEADERS = [
  "SERVICE",
  "STATUS",
  "PID",
  "UPTIME",
  "RESTARTS",
  "REQUESTS",
  "ERRORS",
  "AVG",
  "P99",
  "MEMORY",
  "CPU",
];

const ROUTE_HEADERS = ["ROUTE", "SERVICE", "STATUS", "COLD STARTS"];

export function renderStatus(services: readonly (ServiceSnapshot | ServiceReport)[]): string {
  const rows: string[][] = [];
  for (const s of services) {
    if (s.instances.length === 0) {
      rows.push([s.name, s.status, "-", "-", String(s.restarts), ...figures(s), "-", "-"]);
    }
    for (const i of s.instances) {
      rows.push([
        i.index === 0 ? s.name : `${s.name}@${i.index}`,
        s.status,
        String(i.pid ?? "-"),
        duration(i.uptimeMs),
        String(s.restarts),
        ...figures(i),
        i.memoryBytes === undefined ? "-" : `${(i.memoryBytes / 2 ** 20).toFixed(1)} MiB`,
        i.cpuPercent === undefined ? "-" : `${i.cpuPercent.toFixed(1)}%`,
      ]);
    }
  }
  const out = table(HEADERS, rows);
  const routes = services.flatMap((s) => ("routes" in s ? routeRows(s) : []));
  if (routes.length > 0) out.push("", ...table(ROUTE_HEADERS, routes));
  for (const s of services.filter((x) => x.reason !== undefined)) {
    out.push("", `${s.name} ${s.status}: ${s.reason}`);
    if (s.lastLines.length > 0) out.push("last output:", ...s.lastLines.map((l) => `  ${l}`));
  }
  return `${out.join("\n")}\n`;
}

/** A service's proxy routes, or one row without a route if it was woken another way. */
function routeRows(s: ServiceReport): string[][] {
  const cold = String(s.coldStarts);
  if (s.routes.length === 0) return s.coldStarts > 0 ? [["-", s.name, s.status, cold]] : [];
  return s.routes.map((route) => [route, s.name, s.status, cold]);
}

function table(headers: readonly string[], rows: readonly string[][]): string[] {
  const widths = headers.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

function figures(f: ServiceSnapshot["instances"][number] | ServiceSnapshot): string[] {
  return [
    String(f.requests),
    String(f.errors),
    f.averageMs === undefined ? "-" : milliseconds(f.averageMs),
    f.p99Ms === undefined ? "-" : `≤${milliseconds(f.p99Ms)}`,
  ];
}

function milliseconds(ms: number): string {
  return ms < 1 ? `${Math.round(ms * 1000)}µs` : `${ms.toFixed(ms < 10 ? 2 : 0)}ms`;
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
