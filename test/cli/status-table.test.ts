import assert from "node:assert/strict";
import { test } from "node:test";
import { renderStatus } from "../../src/cli/status-table.ts";
import type { ServiceSnapshot } from "../../src/orchestrator/service-supervisor.ts";

const none = { requests: 0, errors: 0, averageMs: undefined, p99Ms: undefined };

test("one row per instance, then why an errored service failed", () => {
  const services: ServiceSnapshot[] = [
    {
      name: "users",
      status: "running",
      reason: undefined,
      lastLines: [],
      entry: "/app/users.ts",
      restarts: 1,
      logFile: "/app/logs/users.log",
      ...none,
      instances: [0, 1].map((index) => ({
        index,
        pid: 100 + index,
        socketPath: `/tmp/nexus/users${index ? `@${index}` : ""}.sock`,
        uptimeMs: 75_000,
        inFlight: 0,
        memoryBytes: 50 * 2 ** 20,
        cpuPercent: 1.25,
        requests: 12,
        errors: 1,
        averageMs: 0.4,
        p99Ms: 2.5,
      })),
    },
    {
      name: "mailer",
      status: "errored",
      reason: "exit code 1; exited 6 times within 60000 ms",
      lastLines: ["Error: SMTP_URL is not set"],
      entry: "/app/mailer.ts",
      restarts: 5,
      logFile: "/app/logs/mailer.log",
      ...none,
      instances: [],
    },
  ];
  assert.equal(
    renderStatus(services),
    `SERVICE  STATUS   PID  UPTIME  RESTARTS  REQUESTS  ERRORS  AVG    P99      MEMORY    CPU
users    running  100  1m15s   1         12        1       400µs  ≤2.50ms  50.0 MiB  1.3%
users@1  running  101  1m15s   1         12        1       400µs  ≤2.50ms  50.0 MiB  1.3%
mailer   errored  -    -       5         0         0       -      -        -         -

mailer errored: exit code 1; exited 6 times within 60000 ms
last output:
  Error: SMTP_URL is not set
`,
  );
});
