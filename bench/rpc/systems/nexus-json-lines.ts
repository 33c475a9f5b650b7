// Nexus JSON lines: the original design's message, one line per request and
// one reply line per request, in order. The client pipelines its requests on
// one connection and matches replies to requests by order.
import { once } from "node:events";
import { connect } from "node:net";
import { JsonMessageSplitter } from "../../../src/wire/index.ts";
import { type BenchSystem, REQUEST, replyTo } from "../system.ts";
import { InOrderConnection } from "./in-order-connection.ts";
import { serveNexus, TOKEN } from "./nexus-service.ts";

const MAX_LINE_BYTES = 1 << 20;
const LINE = { path: "/user", method: "POST", auth_token: TOKEN, data: REQUEST };

export const nexusJsonLines: BenchSystem = {
  name: "nexus-json-lines",
  label: "Nexus JSON lines",
  concurrency: "pipelined on one connection",
  expectedReply: replyTo(REQUEST),
  serve: serveNexus,
  async connect(address) {
    const socket = connect(address);
    await once(socket, "connect");
    const connection = new InOrderConnection(socket, () => `${JSON.stringify(LINE)}\n`);
    const splitter = new JsonMessageSplitter(MAX_LINE_BYTES);
    socket.on("data", (chunk: Buffer) =>
      splitter.push(chunk, (line) => {
        const reply = JSON.parse(line.toString("utf8")) as { data?: unknown; error?: unknown };
        connection.settleOldest(
          reply.error === undefined
            ? reply.data
            : new Error(`JSON-lines error: ${JSON.stringify(reply.error)}`),
        );
      }),
    );
    return connection;
  },
};
