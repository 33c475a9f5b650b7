// The framed-RPC connections to one service instance (one socket path):
// a small pool of multiplexed connections, opened on demand, replaced when
// the server says GOAWAY or the connection fails.
import type { CodecName } from "../wire/codec.ts";
import { RpcClientConnection } from "./rpc-client-connection.ts";

export interface InstancePoolOptions {
  readonly token: string | undefined;
  readonly codec: CodecName;
  readonly connectTimeoutMs: number;
  readonly maxFrameBytes: number;
  /** Connections per instance; each carries many requests at once. */
  readonly connections: number;
}

export class InstancePool {
  readonly path: string;
  readonly #options: InstancePoolOptions;
  readonly #connections: RpcClientConnection[] = [];
  #opening: Promise<RpcClientConnection> | undefined;
  /** Requests routed here whose connection is still being opened. */
  #waiting = 0;

  constructor(path: string, options: InstancePoolOptions) {
    this.path = path;
    this.#options = options;
  }

  /** Requests in flight on this instance, for least-loaded balancing. */
  get inFlight(): number {
    let total = this.#waiting;
    for (const connection of this.#connections) total += connection.inFlight;
    return total;
  }

  /** The least busy usable connection, opening one when none is idle and the pool has room. */
  acquire(): RpcClientConnection | Promise<RpcClientConnection> {
    return this.ready() ?? this.#open();
  }

  /** The connection `acquire` would hand out without opening one; undefined if it would open. */
  ready(): RpcClientConnection | undefined {
    let best: RpcClientConnection | undefined;
    for (const connection of this.#connections) {
      if (connection.usable && (best === undefined || connection.inFlight < best.inFlight)) {
        best = connection;
      }
    }
    const full = this.#connections.length >= this.#options.connections;
    if (best !== undefined && (best.inFlight === 0 || full || this.#opening !== undefined)) {
      return best;
    }
    return undefined;
  }

  close(): void {
    for (const connection of this.#connections) connection.close();
    this.#connections.length = 0;
  }

  #open(): Promise<RpcClientConnection> {
    if (this.#opening === undefined) {
      this.#opening = RpcClientConnection.open({ path: this.path, ...this.#options })
        .then((connection) => {
          this.#connections.push(connection);
          connection.onRetire = () => this.#remove(connection);
          return connection;
        })
        .finally(() => {
          this.#opening = undefined;
        });
    }
    this.#waiting++;
    return this.#opening.finally(() => {
      this.#waiting--;
    });
  }

  #remove(connection: RpcClientConnection): void {
    const index = this.#connections.indexOf(connection);
    if (index !== -1) this.#connections.splice(index, 1);
  }
}
