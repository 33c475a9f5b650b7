// The authentication relay. The client answered the proxy's greeting, but
// its auth response was computed for the proxy's scramble, which the
// backend never saw. So the proxy asks the client to authenticate again,
// with an AuthSwitchRequest that carries the backend's plugin and scramble,
// and sends the answer to the backend. From then on every packet of the
// exchange (AuthSwitchRequest, AuthMoreData for caching_sha2_password fast
// and full authentication, public keys, passwords encrypted by the client)
// passes through unchanged except for its sequence id, until the backend
// says OK or ERR. The proxy keeps nothing of it, and stops it with an ERR
// of its own where the client would next send its password in clear (see
// cleartext-guard.ts).
import type { CleartextGuard } from "./cleartext-guard.ts";
import { ERR_HEADER, encodeErr, OK_HEADER } from "./err-packet.ts";
import type { Greeting } from "./greeting.ts";
import { encodePacket, nextSequence } from "./packet.ts";
import type { PacketChannel } from "./packet-channel.ts";

const AUTH_SWITCH_HEADER = 0xfe;

/** Asks the client to answer the backend's own challenge. */
export function encodeAuthSwitchRequest(backend: Greeting): Buffer {
  return Buffer.concat([
    Buffer.from([AUTH_SWITCH_HEADER]),
    Buffer.from(`${backend.authPlugin}\0`, "utf8"),
    backend.scramble,
    Buffer.from([0]),
  ]);
}

export type AuthOutcome = "ok" | "denied" | "cleartext_refused";

export type AuthResult =
  | { readonly outcome: "ok"; readonly ok: Buffer }
  | { readonly outcome: "denied" | "cleartext_refused" };

/**
 * Relays the rest of the exchange once the backend has the rebuilt
 * handshake response. `offset` is what to add to a backend sequence id to
 * get the client's (the client has seen more packets than the backend).
 * Resolves with the backend's verdict: a refusal has been sent to the
 * client (the backend's ERR, or the guard's own), while the backend's OK
 * comes back unsent, as the packet the client expects, for the session to
 * send as its relay starts (so that the client has sent nothing yet when
 * the kernel takes the connection). Rejects when either side closes first.
 */
export async function relayAuthentication(
  client: PacketChannel,
  backend: PacketChannel,
  offset: number,
  guard: CleartextGuard,
): Promise<AuthResult> {
  const clientToBackend = (async () => {
    for (;;) {
      const packet = await client.read();
      if (!packet) return;
      // A client that sends faster than the backend reads waits its turn.
      if (!backend.write(nextSequence(packet.sequence, -offset), packet.payload)) {
        await backend.drained();
      }
    }
  })();
  // When the client goes away mid-exchange, closing the backend ends the
  // loop below as well.
  clientToBackend.catch(() => backend.socket.destroy());
  for (;;) {
    const packet = await backend.read();
    if (!packet) throw new Error("the backend channel was released during authentication");
    const sequence = nextSequence(packet.sequence, offset);
    const refusal = guard.inspect(packet.payload);
    if (refusal) {
      client.write(sequence, encodeErr(refusal));
      return { outcome: "cleartext_refused" };
    }
    if (packet.payload[0] === OK_HEADER)
      return { outcome: "ok", ok: encodePacket(sequence, packet.payload) };
    client.write(sequence, packet.payload);
    if (packet.payload[0] === ERR_HEADER) return { outcome: "denied" };
  }
}
