// One error hierarchy for every dialect and the in-process mount. The code is
// the stable contract; each code has one HTTP status.

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  TIMEOUT: 504,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  CANCELLED: 499,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ServiceErrorOptions {
  /** Safe, structured detail for the caller (e.g. which fields failed validation). */
  readonly details?: unknown;
  readonly cause?: unknown;
}

/** An error a caller may see: a stable code, a safe message and optional details. */
export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: ServiceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ServiceError";
    this.code = code;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  /** What crosses the wire: never a stack or a cause. */
  toWire(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_STATUS, value);
}

/** An error received from a peer, rebuilt; an unknown code becomes INTERNAL. */
export function errorFromWire(value: unknown): ServiceError {
  if (typeof value === "object" && value !== null) {
    const { code, message, details } = value as Record<string, unknown>;
    if (isErrorCode(code)) {
      return new ServiceError(code, typeof message === "string" ? message : code, { details });
    }
  }
  return new ServiceError("INTERNAL", "the peer sent an unreadable error");
}
