// The core relay() alone as a benchmark target: a Node hop that parses
// nothing, in the benchmark's own process, the floor under any Node proxy.
import { once } from "node:events";
import { type AddressInfo, connect, createServer } from "node:net";
import { withDirectReads } from "../../src/proxy/core/direct-reads.ts";
import { relay } from "../../src/proxy/core/index.ts";

export interface BareRelay {
  readonly port: number;
  stop(): Promise<void>;
}

/** Listens on a free loopback port and relays every connection to `server`. */
export async function startBareRelay(server: {
  readonly host: string;
  readonly port: number;
}): Promise<BareRelay> {
  const listener = createServer({ noDelay: true }, (client) => {
    // Backends are dialed as the database proxies dial theirs.
    const backend = withDirectReads((onread) => connect({ ...server, noDelay: true, onread }));
    void relay(client, backend);
  });
  listener.listen(0, "127.0.0.1");
  await once(listener, "listening");
  return {
    port: (listener.address() as AddressInfo).port,
    async stop() {
      listener.close();
    },
  };
}
