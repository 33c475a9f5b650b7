// The ways an exchange with a backend can fail, each with a code the proxy
// maps to a status (error-status.ts) and to blame: a timeout or a broken
// response is the backend's fault, a reused connection found closed is not.

/** The backend sent something that is not a valid HTTP/1.1 response. */
export class BackendProtocolError extends Error {
  readonly code = "ERR_NEXUS_BACKEND_PROTOCOL";
  constructor(message: string) {
    super(message);
    this.name = "BackendProtocolError";
  }
}

/** The backend was silent too long: before its response head, or inside its body. */
export class BackendTimeoutError extends Error {
  readonly code = "ERR_NEXUS_BACKEND_TIMEOUT";
  readonly phase: "head" | "body";
  constructor(phase: "head" | "body") {
    super(phase === "head" ? "no response head in time" : "response body stalled");
    this.name = "BackendTimeoutError";
    this.phase = phase;
  }
}

/** The connection closed or failed before the response was complete. */
export class BackendClosedError extends Error {
  readonly code = "ERR_NEXUS_BACKEND_CLOSED";
  /** No byte of the response had arrived. */
  readonly beforeResponse: boolean;
  /** The connection had carried an earlier response (a pooled keep-alive one). */
  readonly reused: boolean;
  constructor(beforeResponse: boolean, reused: boolean, options?: ErrorOptions) {
    super(
      beforeResponse
        ? "backend closed the connection before responding"
        : "backend closed the connection mid-response",
      options,
    );
    this.name = "BackendClosedError";
    this.beforeResponse = beforeResponse;
    this.reused = reused;
  }
}

/** Every pooled connection stayed busy while the request waited for one. */
export class BackendBusyError extends Error {
  readonly code = "ERR_NEXUS_BACKEND_BUSY";
  constructor() {
    super("no connection to the backend came free in time");
    this.name = "BackendBusyError";
  }
}
