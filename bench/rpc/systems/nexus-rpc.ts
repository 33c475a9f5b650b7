// Nexus framed RPC through the typed Client: requests multiplexed on one
// connection, matched to answers by id, JSON codec (the default).
import { dirname } from "node:path";
import { Client } from "../../../src/transport/index.ts";
import { type BenchSystem, REQUEST, replyTo } from "../system.ts";
import { benchService, serveNexus, silent, TOKEN } from "./nexus-service.ts";

export const nexusRpc: BenchSystem = {
  name: "nexus-rpc",
  label: "Nexus framed RPC",
  concurrency: "multiplexed on one connection",
  expectedReply: replyTo(REQUEST),
  serve: serveNexus,
  async connect(address) {
    const client = new Client({ socketDir: dirname(address), token: TOKEN, log: silent });
    const bench = client.service(benchService);
    // The first call opens the connection and completes the handshake.
    await bench.call("POST /user", { data: REQUEST });
    return {
      call: () => bench.call("POST /user", { data: REQUEST }),
      close: () => client.close(),
    };
  },
};
