// Clients for the MySQL proxy tests: the `mariadb` command-line tool, and a
// raw socket that speaks the handshake by hand for cases no real client
// would produce.
import { execFile } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { PacketChannel } from "../../src/proxy/mysql/packet-channel.ts";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the mariadb command-line client in batch mode. */
export function mariadbCli(port: number, args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      "mariadb",
      ["--protocol=TCP", "-h127.0.0.1", `-P${port}`, "--batch", "--skip-column-names", ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export interface RawConnection {
  readonly socket: Socket;
  readonly channel: PacketChannel;
  /** The proxy's greeting payload. */
  readonly greeting: Buffer;
}

/** Connects and reads the greeting, leaving the rest to the test. */
export async function rawConnect(port: number): Promise<RawConnection> {
  const socket = connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  await once(socket, "connect");
  const channel = new PacketChannel(socket, 1 << 20);
  const greeting = await channel.read();
  if (!greeting) throw new Error("no greeting");
  return { socket, channel, greeting: greeting.payload };
}

/**
 * What the proxy does after the test's bytes: sends an ERR packet (its
 * code is returned) or closes (null). Never anything else, never silence.
 */
export async function errorOrClose(connection: RawConnection): Promise<number | null> {
  try {
    const packet = await connection.channel.read();
    if (packet?.payload[0] === 0xff) return packet.payload.readUInt16LE(1);
    throw new Error(`unexpected packet ${packet?.payload.toString("hex")}`);
  } catch (error) {
    if (error instanceof Error && error.name === "ChannelClosedError") return null;
    throw error;
  } finally {
    connection.socket.destroy();
  }
}
