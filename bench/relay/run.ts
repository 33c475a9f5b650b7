// `node bench/relay/run.ts`: the CPU the proxy process spends relaying bytes,
// with relay()'s data loops (manual backpressure), with relay() taking the
// backend's reads directly (as the database proxies dial backends), with
// relay() handing the sockets to the kernel (kernel splicing), and with
// plain pipe() both ways, in the same run. A child process holds the backend
// (it sends the payload once told the relay is in place, and ends) and the
// client (it reads everything through the proxy), so this process's CPU time
// is the relay's alone. The kernel's sends belong to no process, so the
// machine's whole busy time is read too; it includes the child's. Rounds
// alternate the relays, after one unrecorded round each. Writes
// bench/results/relay.json.
import { fork } from "node:child_process";
import { once } from "node:events";
import { connect, createServer, type Socket } from "node:net";
import { parseArgs } from "node:util";
import { withDirectReads } from "../../src/proxy/core/direct-reads.ts";
import { KernelSplice } from "../../src/proxy/core/kernel-splice.ts";
import { relay } from "../../src/proxy/core/relay.ts";
import { machineCpu } from "../support/cpu-time.ts";
import { loadAverage, machine, markdownTable, writeResults } from "../support/report.ts";

const { values: flags } = parseArgs({
  options: {
    megabytes: { type: "string", default: "512" },
    rounds: { type: "string", default: "3" },
  },
});
const megabytes = Number(flags.megabytes);
const rounds = Number(flags.rounds);

/** The child: a backend that sends `megabytes` and ends, and a client that reads it all via the proxy. */
const PEERS = `
const net = require("node:net");
const payload = Buffer.alloc(1 << 20, 120);
let accepted;
let go = false;
const send = (socket) => {
  let left = ${megabytes};
  const more = () => {
    while (left > 0) { left--; if (!socket.write(payload)) return socket.once("drain", more); }
    socket.end();
  };
  more();
};
const backend = net.createServer((socket) => {
  if (go) send(socket);
  else accepted = socket;
});
backend.listen(0, "127.0.0.1", () => process.send({ backendPort: backend.address().port }));
process.on("message", ({ proxyPort, relaying }) => {
  if (relaying) {
    go = true;
    if (accepted) send(accepted);
    accepted = undefined;
    return;
  }
  go = false;
  const started = performance.now();
  let bytes = 0;
  const client = net.connect(proxyPort, "127.0.0.1");
  client.on("data", (chunk) => { bytes += chunk.length; });
  client.on("end", () => { client.end(); process.send({ bytes, ms: performance.now() - started }); });
});
`;

type Relaying = (client: Socket, backend: Socket) => Promise<unknown>;
type Dialing = () => Socket;

function pipeBothWays(client: Socket, backend: Socket): Promise<unknown> {
  client.pipe(backend);
  backend.pipe(client);
  client.on("error", () => backend.destroy());
  backend.on("error", () => client.destroy());
  return Promise.all([once(client, "close"), once(backend, "close")]);
}

interface Measurement {
  readonly relay: string;
  readonly megabytes: number;
  readonly cpuMsPerGigabyte: number;
  /** The whole machine's, the peers' included. */
  readonly machineCpuMsPerGigabyte: number;
  readonly megabytesPerSecond: number;
  readonly loadAverage: number;
}

const peers = fork("-e", [PEERS], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
// A run that fails must not leave its peers running.
process.on("exit", () => peers.kill());
const [{ backendPort }] = (await once(peers, "message")) as [{ backendPort: number }];

const splicer =
  KernelSplice.shared() ??
  (() => {
    throw new Error(`kernel splicing is unavailable: ${KernelSplice.unavailableReason}`);
  })();
const spliced: Relaying = (client, backend) => relay(client, backend, { splice: splicer });

const dialPlain: Dialing = () => connect({ host: "127.0.0.1", port: backendPort, noDelay: true });
const dialDirect: Dialing = () =>
  withDirectReads((onread) =>
    connect({ host: "127.0.0.1", port: backendPort, noDelay: true, onread }),
  );

async function measure(
  name: string,
  relaying: Relaying,
  dial: Dialing = dialPlain,
  expectKernel = false,
): Promise<Measurement> {
  const finished: Promise<unknown>[] = [];
  const proxy = createServer((client) => {
    const backend = dial();
    // The backend sends once the relay is in place, as a database answers a query.
    backend.once("connect", () => {
      finished.push(relaying(client, backend));
      peers.send({ relaying: true });
    });
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  const cpuBefore = process.cpuUsage();
  const machineBefore = await machineCpu();
  const done = once(peers, "message");
  peers.send({ proxyPort: (proxy.address() as { port: number }).port });
  const [{ bytes, ms }] = (await done) as [{ bytes: number; ms: number }];
  const totals = await Promise.all(finished);
  const cpu = process.cpuUsage(cpuBefore);
  const machineMs = ((await machineCpu()) - machineBefore) / 1000;
  proxy.close();
  if (bytes !== megabytes << 20) throw new Error(`${name}: received ${bytes} bytes`);
  const mover = (totals[0] as { mover?: string } | undefined)?.mover;
  if ((mover === "kernel") !== expectKernel) throw new Error(`${name}: relayed by the ${mover}`);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return {
    relay: name,
    megabytes,
    cpuMsPerGigabyte: Math.round((cpuMs * 1024) / megabytes),
    machineCpuMsPerGigabyte: Math.round((machineMs * 1024) / megabytes),
    megabytesPerSecond: Math.round(megabytes / (ms / 1000)),
    loadAverage: loadAverage(),
  };
}

// One unrecorded round each, so both run optimised code when measured.
await measure("warm-up", (client, backend) => relay(client, backend));
await measure("warm-up", (client, backend) => relay(client, backend), dialDirect);
await measure("warm-up", pipeBothWays);
await measure("warm-up", spliced, dialPlain, true);
const measurements: Measurement[] = [];
for (let round = 0; round < rounds; round++) {
  measurements.push(
    await measure("relay() data loops", (client, backend) => relay(client, backend)),
  );
  measurements.push(
    await measure("relay(), direct reads", (client, backend) => relay(client, backend), dialDirect),
  );
  measurements.push(await measure("pipe() both ways", pipeBothWays));
  measurements.push(await measure("relay(), kernel splicing", spliced, dialPlain, true));
}
peers.kill();

const rows = measurements.map((m) => [
  m.relay,
  String(m.cpuMsPerGigabyte),
  String(m.machineCpuMsPerGigabyte),
  String(m.megabytesPerSecond),
  String(m.loadAverage),
]);
console.log(
  markdownTable(["relay", "CPU ms per GB", "machine CPU ms per GB", "MB/s", "load avg"], rows),
);
await writeResults("relay", { machine: machine(), megabytes, rounds, measurements });
