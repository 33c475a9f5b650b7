// An error the proxy reports to a PostgreSQL client in the protocol's own
// terms: a SQLSTATE code and a message, sent as a FATAL ErrorResponse.

export class SqlStateError extends Error {
  /** Five-character SQLSTATE, for example 3D000 (invalid_catalog_name). */
  readonly sqlState: string;

  constructor(sqlState: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SqlStateError";
    this.sqlState = sqlState;
  }
}

/** Encodes an ErrorResponse ('E') message with severity FATAL. */
export function encodeFatalError(error: SqlStateError): Buffer {
  // A NUL would end the field early: drop any that a message may carry.
  const text = error.message.replaceAll("\0", "");
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${error.sqlState}\0M${text}\0\0`, "utf8");
  const message = Buffer.allocUnsafe(5 + fields.length);
  message.write("E", 0, "latin1");
  message.writeInt32BE(4 + fields.length, 1);
  fields.copy(message, 5);
  return message;
}
