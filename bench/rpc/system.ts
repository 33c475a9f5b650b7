// What every benchmarked system provides: a server started in one process and
// a client connected from another. Both sides exchange the same small
// request and reply, so only the transport and its framework differ.

/** The request every system sends. */
export const REQUEST = { id: 123 } as const;

/** The reply every system's handler builds from the request. */
export function replyTo(request: { readonly id: number }): User {
  return { id: request.id, name: "Ada Lovelace", active: true };
}

export interface User {
  readonly id: number;
  readonly name: string;
  readonly active: boolean;
}

export interface RunningServer {
  /** Where a client connects: a socket path, or host:port. */
  readonly address: string;
  close(): Promise<void>;
}

export interface ConnectedClient {
  /** Sends REQUEST and resolves with the decoded reply. */
  call(): Promise<unknown>;
  close(): Promise<void>;
}

export interface BenchSystem {
  /** Short key used on the command line and in the results. */
  readonly name: string;
  /** What the table shows. */
  readonly label: string;
  /** How `inflight` requests share the connection(s), for the table's notes. */
  readonly concurrency: string;
  /** The reply `call()` must resolve with. */
  readonly expectedReply: unknown;
  /** Starts the server side; `dir` is a private temporary directory for sockets. */
  serve(dir: string): Promise<RunningServer>;
  /** Connects one client able to keep `inflight` requests in flight. */
  connect(address: string, inflight: number): Promise<ConnectedClient>;
}
