// The Moleculer peer: two ServiceBrokers in two processes over Moleculer's
// TCP transporter (kept on loopback, see moleculer-loopback.ts), JSON
// serializer, no UDP discovery: the client is given the server's address.
// Each broker sends on its own TCP connection to the other (requests one
// way, replies the other), many calls in flight at once.
import { ServiceBroker } from "moleculer";
import { type BenchSystem, REQUEST, replyTo } from "../system.ts";
import { LoopbackTcpTransporter } from "./moleculer-loopback.ts";

const SERVER_NODE = "bench-server";

function broker(nodeID: string, transporter: LoopbackTcpTransporter): ServiceBroker {
  return new ServiceBroker({ nodeID, transporter, logger: false, metrics: false, tracing: false });
}

export const moleculer: BenchSystem = {
  name: "moleculer",
  label: "Moleculer (TCP transporter)",
  concurrency: "multiplexed on one TCP connection each way",
  expectedReply: replyTo(REQUEST),
  async serve() {
    const transporter = new LoopbackTcpTransporter({ udpDiscovery: false });
    const server = broker(SERVER_NODE, transporter);
    server.createService({
      name: "users",
      actions: { get: (ctx) => replyTo(ctx.params as { id: number }) },
    });
    await server.start();
    return { address: `127.0.0.1:${transporter.port}`, close: () => server.stop() };
  },
  async connect(address) {
    const transporter = new LoopbackTcpTransporter({
      udpDiscovery: false,
      urls: [`${address}/${SERVER_NODE}`],
    });
    const client = broker(`bench-client-${process.pid}`, transporter);
    await client.start();
    await client.waitForServices("users", 10_000);
    return {
      call: () => client.call("users.get", REQUEST),
      close: () => client.stop(),
    };
  },
};
