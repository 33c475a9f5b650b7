// A scripted MySQL 8 server for caching_sha2_password, the one exchange no
// server on this machine speaks (MariaDB has no such plugin). It checks the
// client's proofs with the real algorithm: the fast path against its cache
// of SHA256(SHA256(password)), and full authentication with its RSA key
// (the client asks for the public key and sends the password encrypted).
// After OK it answers COM_PING and closes on COM_QUIT; nothing else.
// The user CLEARTEXT_USER is switched to mysql_clear_password instead, as a
// PAM account would be. The server notes whether the password ever reached
// it in clear.
import {
  constants,
  createHash,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
} from "node:crypto";
import { once } from "node:events";
import { createServer, type Server, type Socket } from "node:net";
import { PROXY_CAPABILITIES } from "../../src/proxy/mysql/capabilities.ts";
import { encodeErr } from "../../src/proxy/mysql/err-packet.ts";
import { encodeGreeting } from "../../src/proxy/mysql/greeting.ts";
import { parseHandshakeResponse } from "../../src/proxy/mysql/handshake-response.ts";
import type { Packet } from "../../src/proxy/mysql/packet.ts";
import { PacketChannel } from "../../src/proxy/mysql/packet-channel.ts";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();
const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((byte, i) => byte ^ b[i % b.length]!));
const OK = Buffer.from([0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00]);
const FAST_AUTH_SUCCESS = Buffer.from([0x01, 0x03]);
const PERFORM_FULL_AUTH = Buffer.from([0x01, 0x04]);
const SWITCH_TO_CLEARTEXT = Buffer.from("\xfemysql_clear_password\0", "latin1");

/** The user whose password the server asks for in clear. */
export const CLEARTEXT_USER = "clearuser";

export interface CachingSha2Server {
  readonly endpoint: string;
  /** How each successful login went, in order. */
  readonly logins: ("fast" | "full" | "cleartext")[];
  /** True once a client sent the password itself, unencrypted. */
  readonly cleartextSeen: boolean;
  close(): Promise<void>;
}

export async function startCachingSha2Server(
  user: string,
  password: string,
): Promise<CachingSha2Server> {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = Buffer.from(publicKey.export({ type: "spki", format: "pem" }));
  const passwordHash = sha256(sha256(Buffer.from(password)));
  const state: State = { cached: false, logins: [], cleartextSeen: false };
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    void serve(socket, { user, password, pem, privateKey, passwordHash, state }).catch(() =>
      socket.destroy(),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    endpoint: `127.0.0.1:${port}`,
    logins: state.logins,
    get cleartextSeen() {
      return state.cleartextSeen;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, "close");
    },
  };
}

interface Secrets {
  user: string;
  password: string;
  pem: Buffer;
  privateKey: KeyObject;
  passwordHash: Buffer;
  state: State;
}

interface State {
  cached: boolean;
  logins: ("fast" | "full" | "cleartext")[];
  cleartextSeen: boolean;
}

async function serve(socket: Socket, secrets: Secrets): Promise<void> {
  const packets = new PacketChannel(socket, 1 << 20);
  const cleartext = Buffer.from(secrets.password);
  const channel: Channel = {
    write: (sequence: number, payload: Buffer) => packets.write(sequence, payload),
    async read() {
      const packet = await packets.read();
      if (packet?.payload.includes(cleartext)) secrets.state.cleartextSeen = true;
      return packet;
    },
  };
  const scramble = Buffer.from("0123456789abcdefghij");
  channel.write(
    0,
    encodeGreeting({
      serverVersion: "8.0.40-scripted",
      connectionId: 7,
      scramble,
      capabilities: PROXY_CAPABILITIES,
      characterSet: 45,
      statusFlags: 2,
      authPlugin: "caching_sha2_password",
    }),
  );
  const first = await channel.read();
  if (!first) return;
  const response = parseHandshakeResponse(first.payload);
  const deny = (sequence: number) => {
    channel.write(
      sequence,
      encodeErr({
        code: 1045,
        sqlState: "28000",
        message: `Access denied for user '${response.user}'@'127.0.0.1' (using password: YES)`,
      }),
    );
    socket.end();
  };
  if (response.user.toString() === CLEARTEXT_USER) {
    channel.write(2, SWITCH_TO_CLEARTEXT);
    const answer = await channel.read();
    if (answer?.payload.toString() !== `${secrets.password}\0`) return deny(4);
    channel.write(4, OK);
    secrets.state.logins.push("cleartext");
    return serveCommands(socket, channel);
  }
  const userMatches = response.user.toString() === secrets.user;
  if (!userMatches || response.authPlugin !== "caching_sha2_password") return deny(2);
  // Fast path: the proof is SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble).
  const stage1 = xor(
    response.authResponse,
    sha256(Buffer.concat([secrets.passwordHash, scramble])),
  );
  if (secrets.state.cached) {
    if (!sha256(stage1).equals(secrets.passwordHash)) return deny(2);
    channel.write(2, FAST_AUTH_SUCCESS);
    channel.write(3, OK);
    secrets.state.logins.push("fast");
  } else {
    channel.write(2, PERFORM_FULL_AUTH);
    const request = await channel.read();
    if (request?.payload[0] !== 0x02) return deny(4);
    channel.write(4, Buffer.concat([Buffer.from([0x01]), secrets.pem]));
    const encrypted = await channel.read();
    if (!encrypted) return;
    const decrypted = privateDecrypt(
      { key: secrets.privateKey, oaepHash: "sha1", padding: constants.RSA_PKCS1_OAEP_PADDING },
      encrypted.payload,
    );
    if (xor(decrypted, scramble).toString() !== `${secrets.password}\0`) return deny(6);
    channel.write(6, OK);
    secrets.state.cached = true;
    secrets.state.logins.push("full");
  }
  await serveCommands(socket, channel);
}

interface Channel {
  write(sequence: number, payload: Buffer): void;
  read(): Promise<Packet | undefined>;
}

async function serveCommands(socket: Socket, channel: Channel): Promise<void> {
  for (;;) {
    const command = await channel.read();
    if (!command || command.payload[0] === 0x01 /* COM_QUIT */) break;
    channel.write(1, OK);
  }
  socket.end();
}
