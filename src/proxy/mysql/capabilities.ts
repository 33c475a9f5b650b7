// Capability flags of the MySQL client/server protocol (the `CLIENT_*`
// constants). Only the flags the proxy reads or sets are named here.

export const CLIENT_LONG_PASSWORD = 0x1; // MariaDB calls this bit CLIENT_MYSQL
export const CLIENT_FOUND_ROWS = 0x2;
export const CLIENT_LONG_FLAG = 0x4;
export const CLIENT_CONNECT_WITH_DB = 0x8;
export const CLIENT_COMPRESS = 0x20;
export const CLIENT_LOCAL_FILES = 0x80;
export const CLIENT_IGNORE_SPACE = 0x100;
export const CLIENT_PROTOCOL_41 = 0x200;
export const CLIENT_INTERACTIVE = 0x400;
export const CLIENT_SSL = 0x800;
export const CLIENT_TRANSACTIONS = 0x2000;
export const CLIENT_SECURE_CONNECTION = 0x8000;
export const CLIENT_MULTI_STATEMENTS = 0x10000;
export const CLIENT_MULTI_RESULTS = 0x20000;
export const CLIENT_PS_MULTI_RESULTS = 0x40000;
export const CLIENT_PLUGIN_AUTH = 0x80000;
export const CLIENT_CONNECT_ATTRS = 0x100000;
export const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 0x200000;
export const CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 0x400000;
export const CLIENT_SESSION_TRACK = 0x800000;
export const CLIENT_DEPRECATE_EOF = 0x1000000;

/**
 * What the proxy's own greeting offers, before it knows the backend: a set
 * every MySQL 5.7+/MariaDB 10.2+ server also offers. CLIENT_LONG_PASSWORD is
 * set so that MariaDB clients send no MariaDB-only extended capabilities.
 * No compression. CLIENT_SSL is added only when the proxy terminates TLS.
 */
export const PROXY_CAPABILITIES =
  CLIENT_LONG_PASSWORD |
  CLIENT_FOUND_ROWS |
  CLIENT_LONG_FLAG |
  CLIENT_CONNECT_WITH_DB |
  CLIENT_LOCAL_FILES |
  CLIENT_IGNORE_SPACE |
  CLIENT_PROTOCOL_41 |
  CLIENT_INTERACTIVE |
  CLIENT_TRANSACTIONS |
  CLIENT_SECURE_CONNECTION |
  CLIENT_MULTI_STATEMENTS |
  CLIENT_MULTI_RESULTS |
  CLIENT_PS_MULTI_RESULTS |
  CLIENT_PLUGIN_AUTH |
  CLIENT_CONNECT_ATTRS |
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS |
  CLIENT_SESSION_TRACK |
  CLIENT_DEPRECATE_EOF;

/**
 * Flags that change the shape of later packets: when a client agreed to one
 * with the proxy, the backend must offer it too, or the two would disagree
 * about every result set.
 */
export const WIRE_SHAPING_CAPABILITIES = [
  ["CLIENT_PROTOCOL_41", CLIENT_PROTOCOL_41],
  ["CLIENT_DEPRECATE_EOF", CLIENT_DEPRECATE_EOF],
  ["CLIENT_SESSION_TRACK", CLIENT_SESSION_TRACK],
  ["CLIENT_MULTI_RESULTS", CLIENT_MULTI_RESULTS],
  ["CLIENT_PS_MULTI_RESULTS", CLIENT_PS_MULTI_RESULTS],
] as const;

/** Names of the wire-shaping flags in `clientFlags` that `serverFlags` lacks. */
export function missingCapabilities(clientFlags: number, serverFlags: number): string[] {
  return WIRE_SHAPING_CAPABILITIES.filter(
    ([, flag]) => (clientFlags & flag) !== 0 && (serverFlags & flag) === 0,
  ).map(([name]) => name);
}
