// Moleculer's TCP transporter, kept on 127.0.0.1. As shipped it listens on
// every interface and tells peers to call it back at the host's first
// address; this subclass listens on loopback and gives loopback as every
// node's address. Everything else (framing, gossip, serialization) is
// Moleculer's own. The reader and writer are not exported by the package,
// so they are loaded from its files.
import { createRequire } from "node:module";
import { createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { Transporters } from "moleculer";

const LOOPBACK = "127.0.0.1";

interface TcpReader {
  opts: { port: number | null };
  server: Server | null;
  connected: boolean;
  onTcpClientConnected(socket: Socket): void;
}

interface TcpWriter {
  on(event: "error", listener: (error: Error, nodeID: string) => void): void;
  on(event: "end", listener: (nodeID: string) => void): void;
}

interface TcpTransporterInternals {
  opts: { port: number | null };
  reader: TcpReader;
  writer: TcpWriter;
  logger: { debug(...args: unknown[]): void };
  nodes: { disconnected(nodeID: string, unexpected: boolean): void };
}

type Constructor<T> = new (transporter: unknown, opts: unknown) => T;

const require = createRequire(import.meta.url);
const tcpDir = join(dirname(require.resolve("moleculer")), "src/transporters/tcp");
const MoleculerTcpReader = require(join(tcpDir, "tcp-reader.js")) as Constructor<TcpReader>;
const MoleculerTcpWriter = require(join(tcpDir, "tcp-writer.js")) as Constructor<TcpWriter>;

class LoopbackTcpReader extends MoleculerTcpReader {
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer((socket) => this.onTcpClientConnected(socket));
      // Once listening, reject is a no-op: the listener only keeps an error from crashing.
      server.on("error", reject);
      server.listen({ host: LOOPBACK, port: this.opts.port ?? 0, exclusive: true }, () => {
        this.opts.port = (server.address() as { port: number }).port;
        this.connected = true;
        resolve(this.opts.port);
      });
      this.server = server;
    });
  }
}

export class LoopbackTcpTransporter extends Transporters.TCP {
  /** The port this node listens on, once the broker has started. */
  get port(): number | null {
    return (this as unknown as TcpTransporterInternals).opts.port;
  }

  /** Moleculer's startTcpServer, with the loopback reader. */
  startTcpServer(): Promise<number> {
    const self = this as unknown as TcpTransporterInternals;
    self.writer = new MoleculerTcpWriter(this, self.opts);
    self.reader = new LoopbackTcpReader(this, self.opts);
    self.writer.on("error", (error, nodeID) => {
      self.logger.debug(`TCP client error on '${nodeID}'`, error);
      self.nodes.disconnected(nodeID, false);
    });
    self.writer.on("end", (nodeID) => self.nodes.disconnected(nodeID, false));
    return (self.reader as LoopbackTcpReader).listen();
  }

  getNodeAddress(): string {
    return LOOPBACK;
  }
}
