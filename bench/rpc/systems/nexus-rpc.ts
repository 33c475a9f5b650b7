// Nexus framed RPC through the typed Client: requests multiplexed on one
// connection, matched to answers by id; JSON codec (the default) or
// MessagePack when the client offers it.
import { dirname } from "node:path";
import { Client } from "../../../src/transport/index.ts";
import type { CodecName } from "../../../src/wire/index.ts";
import { type BenchSystem, REQUEST, replyTo } from "../system.ts";
import { benchService, serveNexus, silent, TOKEN } from "./nexus-service.ts";

export function nexusRpcWith(codec: CodecName): BenchSystem {
  return {
    name: codec === "json" ? "nexus-rpc" : `nexus-rpc-${codec}`,
    label: codec === "json" ? "Nexus framed RPC" : `Nexus framed RPC (${codec})`,
    concurrency: "multiplexed on one connection",
    expectedReply: replyTo(REQUEST),
    serve: serveNexus,
    async connect(address) {
      const socketDir = dirname(address);
      const client = new Client({ socketDir, token: TOKEN, codec, log: silent });
      const bench = client.service(benchService);
      // The first call opens the connection and completes the handshake.
      await bench.call("POST /user", { data: REQUEST });
      return {
        call: () => bench.call("POST /user", { data: REQUEST }),
        close: () => client.close(),
      };
    },
  };
}

export const nexusRpc = nexusRpcWith("json");
