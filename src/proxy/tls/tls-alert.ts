// The fatal TLS alerts the router sends before closing a connection it cannot
// route, so that clients report a precise reason (RFC 8446 §6). They go out in
// clear text: no handshake has happened.
const ALERT_RECORD = 21;
const LEVEL_FATAL = 2;

export const TlsAlert = {
  decodeError: 50,
  internalError: 80,
  unrecognizedName: 112,
} as const;

export type TlsAlertDescription = (typeof TlsAlert)[keyof typeof TlsAlert];

/** A fatal alert record, with the TLS 1.2 record version that every client accepts. */
export function alertRecord(description: TlsAlertDescription): Buffer {
  return Buffer.from([ALERT_RECORD, 3, 3, 0, 2, LEVEL_FATAL, description]);
}
