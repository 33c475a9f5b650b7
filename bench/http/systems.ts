// The systems the HTTP benchmark compares, each started in front of the same
// keep-alive backend (nginx returning a fixed body): Nexus, nginx, HAProxy,
// @fastify/http-proxy and http-proxy, with the same number of workers.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  proxyCommandScript,
  type RunningServer,
  startServer,
} from "../support/processes.ts";

export const HOST = "bench.test";

export interface System {
  readonly name: string;
  readonly workers: number;
  /** Starts it; resolves once it accepts connections. */
  start(dir: string, backendPort: number): Promise<RunningServer>;
}

/** nginx as the backend: one worker, keep-alive, a fixed 13-byte body. */
export async function startBackend(dir: string): Promise<RunningServer> {
  const port = await freePort();
  const conf = await nginxConfig(
    join(dir, "backend"),
    1,
    `
    server {
      listen 127.0.0.1:${port};
      keepalive_requests 1000000;
      location / { return 200 "hello, world\\n"; }
    }`,
  );
  return startServer(port, "nginx", ["-c", conf, "-e", "stderr"]);
}

async function nginxConfig(dir: string, workers: number, server: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, "nginx.conf");
  await writeFile(
    path,
    `user root;
daemon off;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  ${server}
}
`,
  );
  return path;
}

export function systems(workers: number): System[] {
  return [
    {
      name: "nexus",
      workers,
      async start(dir, backendPort) {
        const port = await freePort();
        const config = join(dir, "nexus.yaml");
        await writeFile(
          config,
          `workers: ${workers}
listeners:
  - protocol: http
    port: ${port}
    pool: { connections: 128 }
resolver:
  routes:
    ${HOST}: 127.0.0.1:${backendPort}
ssrf: { allow: [127.0.0.0/8] }
`,
        );
        const args = [await proxyCommandScript(dir), "--config", config];
        return startServer(port, process.execPath, args);
      },
    },
    {
      name: "nginx",
      workers,
      async start(dir, backendPort) {
        const port = await freePort();
        const conf = await nginxConfig(
          join(dir, "nginx"),
          workers,
          `
    upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; }
    server {
      listen 127.0.0.1:${port} reuseport;
      keepalive_requests 1000000;
      location / {
        proxy_pass http://backend;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      }
    }`,
        );
        return startServer(port, "nginx", ["-c", conf, "-e", "stderr"]);
      },
    },
    {
      name: "haproxy",
      workers,
      async start(dir, backendPort) {
        const port = await freePort();
        const conf = join(dir, "haproxy.cfg");
        await writeFile(
          conf,
          `global
  nbthread ${workers}
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  server s1 127.0.0.1:${backendPort}
`,
        );
        return startServer(port, "haproxy", ["-db", "-f", conf]);
      },
    },
    nodePeer("@fastify/http-proxy", "fastify", workers),
    nodePeer("http-proxy", "http-proxy", workers),
  ];
}

function nodePeer(name: string, peer: string, workers: number): System {
  const script = fileURLToPath(new URL("./node-peer.ts", import.meta.url));
  return {
    name,
    workers,
    async start(_dir, backendPort) {
      const port = await freePort();
      const args = [script, peer, String(port), String(backendPort), String(workers)];
      return startServer(port, process.execPath, args);
    },
  };
}
