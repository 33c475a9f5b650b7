// The proxy's connection to the backend is not encrypted, so it refuses the
// authentication steps after which a client would send its password in
// clear through it: the cleartext plugins (mysql_clear_password, and
// MariaDB's "dialog", which PAM accounts use), and, for a client on TLS,
// sha256_password and caching_sha2_password full authentication (such a
// client sends the password bare, trusting the channel; one without TLS
// encrypts it with the server's RSA key instead).
import type { ServerError } from "./err-packet.ts";
import { PayloadReader } from "./payload-reader.ts";
import { serverErrors } from "./server-errors.ts";

const AUTH_SWITCH_REQUEST = 0xfe;
const AUTH_MORE_DATA = 0x01;
/** caching_sha2_password's AuthMoreData asking for the password itself. */
const PERFORM_FULL_AUTHENTICATION = 0x04;
const CLEARTEXT_PLUGINS = new Set(["mysql_clear_password", "dialog"]);
/** Plugins that send the password in clear only when the client is on TLS. */
const CLEARTEXT_OVER_TLS_PLUGINS = new Set(["sha256_password"]);

export class CleartextGuard {
  readonly #clientOnTls: boolean;
  /** The plugin the exchange currently uses: the last AuthSwitchRequest's. */
  #plugin = "";

  constructor(clientOnTls: boolean) {
    this.#clientOnTls = clientOnTls;
  }

  /**
   * Checks an authentication packet on its way to the client. Returns the
   * error to send instead when the client's answer would be a bare password.
   */
  inspect(payload: Buffer): ServerError | undefined {
    if (payload[0] === AUTH_SWITCH_REQUEST && payload.length > 1) {
      this.#plugin = new PayloadReader(payload.subarray(1))
        .nulTerminatedOrRest()
        .toString("latin1");
      const cleartext =
        CLEARTEXT_PLUGINS.has(this.#plugin) ||
        (this.#clientOnTls && CLEARTEXT_OVER_TLS_PLUGINS.has(this.#plugin));
      return cleartext
        ? serverErrors.cleartextRefused(`authentication plugin '${this.#plugin}'`)
        : undefined;
    }
    const fullAuthentication =
      this.#plugin === "caching_sha2_password" &&
      payload.length === 2 &&
      payload[0] === AUTH_MORE_DATA &&
      payload[1] === PERFORM_FULL_AUTHENTICATION;
    if (fullAuthentication && this.#clientOnTls) {
      return serverErrors.cleartextRefused("caching_sha2_password full authentication over TLS");
    }
    return undefined;
  }
}
