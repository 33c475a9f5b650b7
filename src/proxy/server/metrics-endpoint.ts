// GET /metrics on the supervisor: the Prometheus metrics of every worker,
// collected over cluster IPC and summed by prom-client's aggregator.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AggregatorRegistry } from "prom-client";

export class MetricsEndpoint {
  readonly #aggregator = new AggregatorRegistry();
  readonly #server: Server;

  constructor() {
    this.#server = createServer((req, res) => {
      if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      this.#aggregator.clusterMetrics().then(
        (text) => res.writeHead(200, { "content-type": this.#aggregator.contentType }).end(text),
        (error: Error) =>
          res.writeHead(500, { "content-type": "text/plain" }).end(`${error.message}\n`),
      );
    });
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  async listen(port: number, host: string): Promise<void> {
    this.#server.listen(port, host);
    await once(this.#server, "listening");
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
