// The Nexus HTTP/1.1 dialect through an undici Client over the service's
// socket, keep-alive. HTTP/1.1 cannot multiplex: with 64 in flight the client
// pipelines 64 requests on its one connection (undici sends a POST pipelined
// only when told it is idempotent and non-blocking), and the server answers
// them in order.
import { Client } from "undici";
import { type BenchSystem, REQUEST, replyTo } from "../system.ts";
import { serveNexus, TOKEN } from "./nexus-service.ts";

const BODY = JSON.stringify(REQUEST);
const HEADERS = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

export const nexusHttp: BenchSystem = {
  name: "nexus-http",
  label: "Nexus HTTP/1.1 dialect (undici)",
  concurrency: "HTTP/1.1 pipelining on one keep-alive connection",
  expectedReply: replyTo(REQUEST),
  serve: serveNexus,
  async connect(address, inflight) {
    const client = new Client("http://bench", { socketPath: address, pipelining: inflight });
    return {
      async call() {
        const { statusCode, body } = await client.request({
          method: "POST",
          path: "/user",
          headers: HEADERS,
          body: BODY,
          idempotent: true,
          blocking: false,
        });
        const reply = await body.json();
        if (statusCode !== 200) throw new Error(`HTTP ${statusCode}: ${JSON.stringify(reply)}`);
        return reply;
      },
      close: () => client.close(),
    };
  },
};
