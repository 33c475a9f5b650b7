// Reads a config file (nexus.config.ts / .js / .mjs as a module whose default
// export is the config, or .yaml / .yml), validates it and makes its paths
// absolute. Every mistake is reported at once, each with its key, what was
// expected and what was found.
import { access, readFile } from "node:fs/promises";
import { dirname, extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseDocument } from "yaml";
import type { z } from "zod";
import { configSchema, type NexusConfig } from "./config.ts";
import { type ConfigProblem, referenceProblems } from "./config-references.ts";

export class ConfigError extends Error {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${p.key ? `${p.key}: ` : ""}${p.message}`);
    super(`${file}: ${problems.length} problem(s) in the configuration\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.file = file;
    this.problems = problems;
  }
}

/** A validated config whose paths (entries, socket dir, logs) are absolute. */
export interface LoadedConfig extends NexusConfig {
  readonly file: string;
  readonly socketDir: string;
}

export async function loadConfig(path: string): Promise<LoadedConfig> {
  const file = resolve(path);
  const config = parseConfig(await readConfigValue(file), file);
  const missing: ConfigProblem[] = [];
  for (const [name, service] of Object.entries(config.services)) {
    await access(service.entry).catch(() =>
      missing.push({ key: `services.${name}.entry`, message: `no such file: ${service.entry}` }),
    );
  }
  if (missing.length > 0) throw new ConfigError(file, missing);
  return config;
}

/** Validates an already-read config value as if it came from `file`. */
export function parseConfig(value: unknown, file: string): LoadedConfig {
  const result = configSchema.safeParse(value, { reportInput: true });
  const problems = [
    ...(result.error?.issues.map(describeIssue) ?? []),
    ...referenceProblems(value),
  ];
  if (!result.success || problems.length > 0) throw new ConfigError(file, problems);
  const base = dirname(file);
  const config = result.data;
  const socketDir = resolve(base, config.socketDir ?? process.env.NEXUS_SOCKET_DIR ?? "/tmp/nexus");
  const services = Object.fromEntries(
    Object.entries(config.services).map(([name, s]) => [
      name,
      { ...s, entry: resolve(base, s.entry) },
    ]),
  );
  return {
    ...config,
    file,
    socketDir,
    tokenFile: config.tokenFile === undefined ? undefined : resolve(base, config.tokenFile),
    services,
    logs: { ...config.logs, dir: resolve(base, config.logs.dir) },
  };
}

async function readConfigValue(file: string): Promise<unknown> {
  const extension = extname(file);
  if (extension === ".yaml" || extension === ".yml") {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw new ConfigError(file, [{ key: "", message: (error as Error).message }]);
    }
    const document = parseDocument(text, { uniqueKeys: true });
    if (document.errors.length > 0) {
      throw new ConfigError(
        file,
        document.errors.map((e) => ({ key: "", message: e.message.split("\n")[0]! })),
      );
    }
    return document.toJS();
  }
  if ([".ts", ".mts", ".js", ".mjs"].includes(extension)) {
    try {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown };
      if (module.default === undefined) {
        throw new Error("expected a default export made with defineConfig({...})");
      }
      return module.default;
    } catch (error) {
      throw new ConfigError(file, [{ key: "", message: (error as Error).message }]);
    }
  }
  throw new ConfigError(file, [
    { key: "", message: `expected a .ts, .js, .mjs, .yaml or .yml file, found "${extension}"` },
  ]);
}

function describeIssue(issue: z.core.$ZodIssue): ConfigProblem {
  const key = issue.path.map(String).join(".");
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? { key, message: `missing (expected ${issue.expected})` }
        : { key, message: `expected ${issue.expected}, found ${describeValue(issue.input)}` };
    case "unrecognized_keys":
      return {
        key,
        message: `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`,
      };
    case "invalid_key":
      return { key, message: `invalid name: ${issue.issues[0]?.message ?? issue.message}` };
    case "custom":
      return { key, message: issue.message };
    default:
      return { key, message: `${issue.message}, found ${describeValue(issue.input)}` };
  }
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`;
}
