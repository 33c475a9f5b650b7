// A loopback TCP port for a server the tests start as another process
// (PostgreSQL, MariaDB), which cannot be told to listen on port 0 and report
// back. The port is free when returned; the server should bind it at once.
import { once } from "node:events";
import { createServer } from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as { port: number };
  probe.close();
  await once(probe, "close");
  return port;
}
