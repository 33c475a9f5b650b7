// TLS towards a backend: the proxy makes the SSLRequest exchange a client
// would, then speaks TLS to the server, so that the hop between proxy and
// database is encrypted too.
import { isIP, type Socket } from "node:net";
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from "node:tls";
import type { Endpoint } from "../core/index.ts";
import { SqlStateError } from "./sql-state-error.ts";
import { SSL_REQUEST_CODE } from "./startup-packet.ts";

const SSL_REQUEST = Buffer.alloc(8);
SSL_REQUEST.writeInt32BE(8, 0);
SSL_REQUEST.writeInt32BE(SSL_REQUEST_CODE, 4);

/**
 * Asks the server on `socket` for TLS and completes the handshake within
 * `timeoutMs`, after which the socket is destroyed. The certificate is
 * checked against the endpoint's host unless `options` say otherwise.
 * Throws a SqlStateError naming `server` when the server refuses, fails or
 * takes too long.
 */
export async function startBackendTls(
  socket: Socket,
  endpoint: Extract<Endpoint, { kind: "tcp" }>,
  options: ConnectionOptions,
  server: string,
  timeoutMs: number,
): Promise<TLSSocket> {
  let secure: TLSSocket | undefined;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    secure?.destroy();
    socket.destroy();
  }, timeoutMs);
  try {
    socket.write(SSL_REQUEST);
    const answer = await new Promise<Buffer>((resolve) => {
      socket.once("data", resolve);
      socket.once("close", () => resolve(Buffer.alloc(0)));
    });
    socket.pause();
    if (late) throw new Error("too late");
    if (answer[0] !== 0x53 /* S */) {
      throw new SqlStateError("08006", `${server} does not accept SSL connections`);
    }
    if (answer.length > 1) {
      // Bytes after the S did not come through TLS: someone is in the middle.
      throw new SqlStateError("08P01", `${server} sent unencrypted data after its SSL response`);
    }
    const servername = isIP(endpoint.host) === 0 ? endpoint.host : undefined;
    const tls = tlsConnect({ host: endpoint.host, servername, ...options, socket });
    secure = tls;
    const failure = await new Promise<Error | undefined>((resolve) => {
      tls.once("secureConnect", () => resolve(undefined));
      tls.once("error", resolve);
      tls.once("close", () => resolve(new Error("the connection closed")));
    });
    if (failure) {
      tls.destroy();
      throw new SqlStateError("08006", `TLS to ${server} failed: ${failure.message}`);
    }
    tls.on("error", () => {});
    return tls;
  } catch (error) {
    if (!late) throw error;
    throw new SqlStateError("08006", `${server} did not complete TLS within ${timeoutMs} ms`);
  } finally {
    clearTimeout(timer);
  }
}
