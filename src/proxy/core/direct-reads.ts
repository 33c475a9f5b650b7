// Reads of a socket into a buffer of its own (Node's `onread` option), so a
// relay can take each chunk straight from the read callback: no buffer
// allocated per read, no readable-stream push and 'data' event.
//
// Until a consumer takes over, every read is copied into the socket's
// readable stream, so adapters that parse a handshake read it as any other
// socket ('data', pause, resume, end). A consumer gets a view of the buffer
// that the next read overwrites; if it must keep the view past its call
// (a write the kernel took only in part), it says so with keep() and the
// next read goes into a new buffer.
import type { OnReadOpts, Socket } from "node:net";

/**
 * Read buffer sizes. A socket starts small, so thousands of sessions that
 * exchange short queries hold little; a read that fills its buffer moves it
 * up to what Node asks the kernel for on a stream read, and a run of small
 * reads moves it back down, so one large result does not stay resident.
 */
const SMALL_READ = 8 << 10;
const LARGE_READ = 64 << 10;

const bySocket = new WeakMap<Socket, DirectReads>();

export class DirectReads {
  #socket: Socket | undefined;
  #size = SMALL_READ;
  #buffer = Buffer.allocUnsafe(SMALL_READ);
  #kept = false;
  #consumer: ((bytes: Buffer) => void) | undefined;

  /** The reads of `socket`, if it was opened with withDirectReads(). */
  static of(socket: Socket): DirectReads | undefined {
    return bySocket.get(socket);
  }

  /** From now on each read goes to `consumer`, as a view valid until it returns unless kept. */
  takeOver(consumer: (bytes: Buffer) => void): void {
    this.#consumer = consumer;
  }

  /** The view last given out is still in use: the next read must not overwrite it. */
  keep(): void {
    this.#kept = true;
  }

  /** The socket's `onread` option; Node asks `buffer` for the buffer of each next read. */
  readonly onread: OnReadOpts = {
    buffer: () => {
      if (this.#kept || this.#buffer.length !== this.#size) {
        this.#kept = false;
        this.#buffer = Buffer.allocUnsafe(this.#size);
      }
      return this.#buffer;
    },
    callback: (length, buffer) => {
      if (length === this.#buffer.length) this.#size = LARGE_READ;
      else if (length <= SMALL_READ / 2) this.#size = SMALL_READ;
      const bytes = (buffer as Buffer).subarray(0, length);
      if (this.#consumer !== undefined) {
        this.#consumer(bytes);
        return true;
      }
      // Returning false pauses reading, as a full readable stream does.
      return (this.#socket as Socket).push(Buffer.from(bytes));
    },
  };

  attach(socket: Socket): void {
    this.#socket = socket;
    bySocket.set(socket, this);
  }
}

/** The socket `open` makes with the given `onread` option, its reads direct. */
export function withDirectReads(open: (onread: OnReadOpts) => Socket): Socket {
  const reads = new DirectReads();
  const socket = open(reads.onread);
  reads.attach(socket);
  return socket;
}
