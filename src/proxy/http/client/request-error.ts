// A request the proxy cannot read or will not take, refused with a status
// before any backend sees it: a malformed head or body framing (400), a
// request head too large (431), a head or body sent too slowly (408), a
// transfer coding or method the proxy cannot pass on (501), an HTTP version
// it does not speak (505), an expectation it cannot meet (417).
export class ClientRequestError extends Error {
  readonly code = "ERR_NEXUS_CLIENT_REQUEST";
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = "ClientRequestError";
    this.status = status;
  }
}
