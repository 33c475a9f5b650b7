// One load process of the connections benchmark: opens `count` connections
// to the proxy from one loopback source address, sends one request on each
// (so every connection is really proxied), reads the answer, and then holds
// the connection idle until told to stop. Reports progress over IPC.
//   node idle-client.ts <port> <source address> <count> <host header>
import { connect, type Socket } from "node:net";

const [portText, source, countText, host] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const request = `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
/** Connections being opened at once; more would overflow the listen backlog. */
const IN_FLIGHT = 200;
/** A connection not answered within this long counts as failed ("timeout"). */
const DEADLINE_MS = 120_000;

const held: Socket[] = [];
/** Failures by error code (or the status line the proxy answered with). */
const failures: Record<string, number> = {};
let started = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: source });
    socket.setNoDelay(true);
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      failures[reason] = (failures[reason] ?? 0) + 1;
      socket.destroy();
      resolve();
    };
    const onError = (error: NodeJS.ErrnoException) => fail(error.code ?? error.message);
    socket.once("error", onError);
    const deadline = setTimeout(() => fail("timeout"), DEADLINE_MS);
    socket.once("connect", () => socket.write(request));
    socket.once("data", (chunk: Buffer) => {
      clearTimeout(deadline);
      const status = chunk.toString("latin1", 0, 12);
      if (status !== "HTTP/1.1 200") return fail(status);
      settled = true;
      socket.off("error", onError);
      // An idle connection closed by the proxy counts as lost, not as an error here.
      socket.on("error", () => {});
      held.push(socket);
      resolve();
    });
  });
}

async function worker(): Promise<void> {
  while (started < count) {
    started += 1;
    await openOne();
  }
}

await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
const open = held.filter((socket) => !socket.destroyed).length;
process.send?.({ held: open, failures });
process.on("message", () => {
  for (const socket of held) socket.destroy();
  process.exit(0);
});
