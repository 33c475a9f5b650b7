// The Node peers of the HTTP benchmark, each in its idiomatic keep-alive
// setup, run in node:cluster workers like Nexus:
//   node node-peer.ts <fastify|http-proxy> <port> <upstream port> <workers>
import cluster from "node:cluster";
import { Agent, createServer } from "node:http";
import proxy from "@fastify/http-proxy";
import Fastify from "fastify";
import httpProxy from "http-proxy";

const [peer, portText, upstreamText, workersText] = process.argv.slice(2);
const port = Number(portText);
const upstream = `http://127.0.0.1:${upstreamText}`;

async function serveFastify(): Promise<void> {
  const app = Fastify({ logger: false });
  // undici keep-alive pool to the upstream, as the plugin configures it.
  await app.register(proxy, { upstream, undici: { connections: 128, pipelining: 1 } });
  await app.listen({ port, host: "127.0.0.1" });
}

function serveHttpProxy(): void {
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const server = httpProxy.createProxyServer({ target: upstream, agent, xfwd: true });
  server.on("error", (_error, _req, res) => {
    if ("writeHead" in res && !res.headersSent) res.writeHead(502);
    res.end();
  });
  createServer((req, res) => server.web(req, res)).listen(port, "127.0.0.1");
}

if (cluster.isPrimary) {
  for (let i = 0; i < Number(workersText); i++) cluster.fork();
  process.on("SIGTERM", () => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill();
    process.exit(0);
  });
} else if (peer === "fastify") {
  await serveFastify();
} else if (peer === "http-proxy") {
  serveHttpProxy();
} else {
  throw new Error(`unknown peer ${peer}`);
}
