// Keep-alive connections to one backend: a request takes the most recently
// used idle connection, or opens a new one while fewer than `connections`
// are open, or waits in line for the next connection to come free. The pool
// never dials by itself: `connect` is the proxy core's (SSRF guard, breaker,
// connect timeout, resolver hooks), and its failure fails that request only.
import type { Socket } from "node:net";
import { BackendConnection, type ConnectionOwner } from "./backend-connection.ts";
import { BackendBusyError } from "./backend-errors.ts";
import type { BackendRequest, Exchange, ResponseHandler } from "./backend-request.ts";
import type { ResponseHead } from "./response-head.ts";

export interface BackendPoolOptions {
  /** Most connections open at once. */
  readonly connections: number;
  /** How long an unused connection stays open. */
  readonly keepAliveMs: number;
}

export class BackendPool implements ConnectionOwner {
  readonly #connect: () => Promise<Socket>;
  readonly #options: BackendPoolOptions;
  /** Idle connections, the most recently used last. */
  readonly #idle: BackendConnection[] = [];
  readonly #waiting: PooledExchange[] = [];
  /** Connections open or being opened (dedicated ones not counted). */
  #open = 0;
  #inFlight = 0;
  #closing = false;
  #drained: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  constructor(connect: () => Promise<Socket>, options: BackendPoolOptions) {
    this.#connect = connect;
    this.#options = options;
  }

  /** Pooled connections open or being opened. */
  get openConnections(): number {
    return this.#open;
  }

  /** close() was called. */
  get closed(): boolean {
    return this.#closing;
  }

  /** Requests sent or waiting and not finished. */
  get inFlight(): number {
    return this.#inFlight;
  }

  dispatch(request: BackendRequest, handler: ResponseHandler): Exchange {
    const exchange = this.#exchange(request, handler);
    const idle = this.#takeIdle();
    if (idle) exchange.start(idle);
    else if (this.#open < this.#options.connections) this.#openFor(exchange, this);
    else this.#wait(exchange, request.headTimeoutMs);
    return exchange;
  }

  /**
   * Sends one request on a connection of its own, closed after the
   * response: a request sent again after its pooled connection was found
   * closed must not land on another stale one.
   */
  dispatchOnNewConnection(request: BackendRequest, handler: ResponseHandler): Exchange {
    const exchange = this.#exchange(request, handler);
    this.#openFor(exchange, DEDICATED);
    return exchange;
  }

  /** Closes idle connections now and the others once their requests have finished. */
  close(): Promise<void> {
    if (!this.#drained) {
      this.#closing = true;
      for (const connection of this.#idle.splice(0)) connection.destroy();
      this.#drained =
        this.#inFlight === 0
          ? Promise.resolve()
          : new Promise((resolve) => {
              this.#onDrained = resolve;
            });
    }
    return this.#drained;
  }

  connectionReleased(connection: BackendConnection): void {
    const next = this.#nextWaiting();
    if (next) next.start(connection);
    else if (this.#closing) connection.destroy();
    else this.#idle.push(connection);
  }

  connectionClosed(connection: BackendConnection): void {
    this.#open -= 1;
    const at = this.#idle.indexOf(connection);
    if (at >= 0) this.#idle.splice(at, 1);
    const next = this.#nextWaiting();
    if (next) this.#openFor(next, this);
  }

  #openFor(exchange: PooledExchange, owner: ConnectionOwner): void {
    if (owner === this) this.#open += 1;
    this.#connect().then(
      (socket) => {
        const connection = new BackendConnection(socket, owner, this.#options.keepAliveMs);
        if (exchange.finished) owner.connectionReleased(connection);
        else exchange.start(connection);
      },
      (error: Error) => {
        if (owner === this) {
          this.#open -= 1;
          const next = this.#nextWaiting();
          if (next) this.#openFor(next, this);
        }
        exchange.fail(error);
      },
    );
  }

  #takeIdle(): BackendConnection | undefined {
    let connection = this.#idle.pop();
    while (connection?.closed) connection = this.#idle.pop();
    return connection;
  }

  /** A new exchange, counted as in flight until it ends or fails. */
  #exchange(request: BackendRequest, handler: ResponseHandler): PooledExchange {
    this.#inFlight += 1;
    const exchange = new PooledExchange(request, handler, () => {
      this.#inFlight -= 1;
      const at = exchange.waiting ? this.#waiting.indexOf(exchange) : -1;
      if (at >= 0) this.#waiting.splice(at, 1);
      if (this.#inFlight === 0) this.#onDrained?.();
    });
    return exchange;
  }

  /** The first request in line, no longer timed: it has its connection, or one is being opened. */
  #nextWaiting(): PooledExchange | undefined {
    const next = this.#waiting.shift();
    next?.stopWaiting();
    return next;
  }

  /**
   * Puts `exchange` in line for the next free connection, for at most
   * `timeoutMs` (the request's head timeout, which starts anew once it is
   * sent); past it the request fails with BackendBusyError.
   */
  #wait(exchange: PooledExchange, timeoutMs: number): void {
    this.#waiting.push(exchange);
    exchange.waitAtMost(timeoutMs);
  }
}

/** Owner of a dedicated connection: it carries one request, then closes. */
const DEDICATED: ConnectionOwner = {
  connectionReleased: (connection) => connection.destroy(),
  connectionClosed: () => {},
};

/**
 * A request from dispatch to its end, before and after it has a connection.
 * Once finished it lets go of its connection, which may already be carrying
 * another request: a late abort or resume must not reach that one.
 */
class PooledExchange implements Exchange, ResponseHandler {
  readonly #request: BackendRequest;
  readonly #handler: ResponseHandler;
  readonly #onFinished: () => void;
  #connection: BackendConnection | undefined;
  #finished = false;
  /** Set while it waits in line for a connection. */
  #waitTimer: NodeJS.Timeout | undefined;

  constructor(request: BackendRequest, handler: ResponseHandler, onFinished: () => void) {
    this.#request = request;
    this.#handler = handler;
    this.#onFinished = onFinished;
  }

  get finished(): boolean {
    return this.#finished;
  }

  get waiting(): boolean {
    return this.#waitTimer !== undefined;
  }

  waitAtMost(timeoutMs: number): void {
    this.#waitTimer = setTimeout(() => this.onError(new BackendBusyError()), timeoutMs);
  }

  start(connection: BackendConnection): void {
    this.stopWaiting();
    this.#connection = connection;
    connection.send(this.#request, this);
  }

  /** No connection could be had. */
  fail(error: Error): void {
    this.onError(error);
  }

  abort(reason: Error): void {
    if (this.#finished) return;
    if (this.#connection) this.#connection.abort(reason);
    else this.onError(reason);
  }

  resume(): void {
    if (!this.#finished) this.#connection?.resume();
  }

  onHead(head: ResponseHead): void {
    this.#handler.onHead(head);
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData(chunk);
  }

  onEnd(): void {
    if (this.#finish()) this.#handler.onEnd();
  }

  onError(error: Error): void {
    if (this.#finish()) this.#handler.onError(error);
  }

  #finish(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    this.#connection = undefined;
    this.#onFinished();
    this.stopWaiting();
    return true;
  }

  stopWaiting(): void {
    clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
  }
}
