// Brings a fresh backend connection to where the client's session is: the
// backend's greeting is consumed, TLS is started if configured, and the
// client's EHLO/HELO is replayed. What comes after is relayed byte for byte.
import type { Socket } from "node:net";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { Endpoint } from "../core/index.ts";
import { BackendConversation, refused } from "./backend-conversation.ts";
import type { SmtpReply } from "./reply.ts";

export interface Hello {
  readonly verb: "EHLO" | "HELO";
  /** The domain the client named, as it wrote it. */
  readonly domain: string;
}

export interface BackendSessionOptions {
  /** How long each backend reply may take. */
  readonly timeoutMs: number;
  /** STARTTLS to the backend with these options; none means clear text. */
  readonly tls: ConnectionOptions | undefined;
}

export interface StartedBackend {
  readonly conversation: BackendConversation;
  /** The backend's answer to the replayed EHLO/HELO. */
  readonly helloReply: SmtpReply;
}

/** Rejects with BackendSmtpError when the backend refuses any step. */
export async function startBackendSession(
  socket: Socket,
  endpoint: Endpoint,
  hello: Hello,
  options: BackendSessionOptions,
): Promise<StartedBackend> {
  const conversation = new BackendConversation(socket, options.timeoutMs);
  const greeting = await conversation.read();
  if (greeting.code !== 220) throw refused("the connection", greeting);
  if (options.tls) {
    const ehlo = await conversation.command(`EHLO ${hello.domain}`);
    if (ehlo.code !== 250) throw refused("EHLO", ehlo);
    await conversation.startTls({ ...tlsIdentity(endpoint), ...options.tls });
  }
  const helloReply = await conversation.command(`${hello.verb} ${hello.domain}`);
  if (helloReply.code !== 250) throw refused(hello.verb, helloReply);
  return { conversation, helloReply };
}

/** The name the backend's certificate is checked against: its endpoint host. */
function tlsIdentity(endpoint: Endpoint): ConnectionOptions {
  if (endpoint.kind === "unix") return {};
  // SNI carries host names only (RFC 6066); an address is still checked.
  return isIP(endpoint.host) ? { host: endpoint.host } : { servername: endpoint.host };
}
