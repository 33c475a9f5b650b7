// Checks that names in a config point somewhere: `dependsOn` entries,
// gateway routes and proxy hosts name existing services, and dependencies have no cycle. It
// reads the raw value defensively so that these mistakes are reported
// together with the schema's, not only after those are fixed.
import { DependencyCycleError, startWaves } from "./dependency-order.ts";

export interface ConfigProblem {
  /** Dotted key, e.g. `services.users.instances`; empty for the whole file. */
  readonly key: string;
  readonly message: string;
}

export function referenceProblems(value: unknown): ConfigProblem[] {
  const services = isRecord(value) && isRecord(value.services) ? value.services : {};
  const names = Object.keys(services);
  const known = `services are: ${names.join(", ")}`;
  const problems: ConfigProblem[] = [];
  const dependencies: Record<string, string[]> = {};
  for (const name of names) {
    const service = services[name];
    const dependsOn = isRecord(service) ? service.dependsOn : undefined;
    dependencies[name] = [];
    if (!Array.isArray(dependsOn)) continue;
    dependsOn.forEach((dependency: unknown, index) => {
      if (typeof dependency !== "string") return;
      const key = `services.${name}.dependsOn.${index}`;
      if (dependency === name) problems.push({ key, message: "a service cannot depend on itself" });
      else if (!names.includes(dependency)) {
        problems.push({ key, message: `unknown service "${dependency}" (${known})` });
      } else dependencies[name]!.push(dependency);
    });
  }
  try {
    startWaves(dependencies);
  } catch (error) {
    if (!(error instanceof DependencyCycleError)) throw error;
    problems.push({ key: `services.${error.cycle[0]}.dependsOn`, message: error.message });
  }
  const gateway = isRecord(value) ? value.gateway : undefined;
  const routes = isRecord(gateway) && Array.isArray(gateway.routes) ? gateway.routes : [];
  routes.forEach((route: unknown, index) => {
    const service = isRecord(route) ? route.service : undefined;
    if (typeof service === "string" && !names.includes(service)) {
      const key = `gateway.routes.${index}.service`;
      problems.push({ key, message: `unknown service "${service}" (${known})` });
    }
  });
  const proxy = isRecord(value) ? value.proxy : undefined;
  const hosts = isRecord(proxy) && isRecord(proxy.hosts) ? proxy.hosts : {};
  for (const [host, service] of Object.entries(hosts)) {
    if (typeof service === "string" && !names.includes(service)) {
      const key = `proxy.hosts.${host}`;
      problems.push({ key, message: `unknown service "${service}" (${known})` });
    }
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
