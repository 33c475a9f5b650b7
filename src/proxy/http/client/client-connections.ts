// Every client connection of one HTTP listener: it admits new ones up to
// the connection limit (past it a client gets 503, not a silent close),
// applies their deadlines with one sweep for all of them, and on shutdown
// closes the idle ones at once and the busy ones after their answers.
import type { Socket } from "node:net";
import { writeRawResponse } from "../raw-response.ts";
import { ClientConnection, type ClientLimits, type RequestHandler } from "./client-connection.ts";

export interface ConnectionEvents {
  opened(): void;
  closed(): void;
  /** A connection past the limit, answered 503. */
  refused(): void;
}

export class ClientConnections {
  readonly #handler: RequestHandler;
  readonly #limits: ClientLimits;
  readonly #maxConnections: number;
  readonly #events: ConnectionEvents;
  readonly #open = new Set<ClientConnection>();
  readonly #sweep: NodeJS.Timeout;
  #whenEmpty: (() => void) | undefined;
  #closed: Promise<void> | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #deadlineAt = Number.POSITIVE_INFINITY;

  constructor(
    handler: RequestHandler,
    limits: ClientLimits,
    maxConnections: number,
    events: ConnectionEvents,
  ) {
    this.#handler = handler;
    this.#limits = limits;
    this.#maxConnections = maxConnections;
    this.#events = events;
    // Deadlines are kept to within a quarter of the shortest one, and a second at most.
    const shortest = Math.min(
      limits.headersTimeoutMs,
      limits.requestTimeoutMs,
      limits.idleTimeoutMs || Number.POSITIVE_INFINITY,
      limits.keepAliveTimeoutMs,
    );
    const interval = Math.max(10, Math.min(1000, shortest / 4));
    this.#sweep = setInterval(this.#check, interval);
    this.#sweep.unref();
  }

  /** Takes a socket the listener accepted. */
  accept = (socket: Socket): void => {
    if (this.#open.size >= this.#maxConnections) {
      this.#events.refused();
      socket.on("error", () => socket.destroy());
      writeRawResponse(socket, 503, "too many connections", { "retry-after": 1 });
      return;
    }
    const connection = new ClientConnection(socket, this.#handler, this.#limits);
    this.#open.add(connection);
    this.#events.opened();
    // Registered here, not in the connection: it stays when an upgrade takes the socket over.
    socket.once("close", () => {
      this.#open.delete(connection);
      this.#events.closed();
      if (this.#open.size === 0) this.#whenEmpty?.();
    });
  };

  /**
   * Closes idle connections now and the others after their current answer;
   * resolves when every connection has closed. Upgraded connections are
   * their tunnels' to close. Connections still open after `deadlineMs`
   * (a stream that never ends) are cut.
   */
  close(deadlineMs?: number): Promise<void> {
    this.#closed ??= this.#drain();
    // A later call with a shorter deadline moves it closer.
    if (deadlineMs !== undefined && performance.now() + deadlineMs < this.#deadlineAt) {
      this.#deadlineAt = performance.now() + deadlineMs;
      clearTimeout(this.#deadline);
      this.#deadline = setTimeout(this.#cutAll, deadlineMs);
      this.#deadline.unref();
    }
    return this.#closed;
  }

  readonly #cutAll = (): void => {
    for (const connection of this.#open) connection.socket.destroy();
  };

  #drain(): Promise<void> {
    for (const connection of this.#open) connection.shutdown();
    return new Promise<void>((resolve) => {
      // Deadlines still apply while the connections drain.
      const done = () => {
        clearInterval(this.#sweep);
        clearTimeout(this.#deadline);
        resolve();
      };
      if (this.#open.size === 0) done();
      else this.#whenEmpty = done;
    });
  }

  readonly #check = (): void => {
    const now = performance.now();
    for (const connection of this.#open) connection.check(now);
  };
}
