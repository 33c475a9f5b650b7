// Reads what a backend sends between the StartupMessage and the first
// ReadyForQuery (authentication requests, ParameterStatus, BackendKeyData)
// and passes it to the client unchanged, except BackendKeyData, whose key is
// swapped for one the proxy issues. Once ReadyForQuery or an ErrorResponse
// has gone by, the proxy stops reading messages and relays raw bytes.
import type { BackendKey } from "./cancel-keys.ts";
import { SqlStateError } from "./sql-state-error.ts";

/** Startup messages are small; anything larger is a broken backend. */
const MAX_STARTUP_MESSAGE_LENGTH = 1 << 20;
const HEADER_LENGTH = 5;

export type IssueKey = (backendKey: BackendKey) => BackendKey;

export interface StartupProgress {
  /** Bytes to send to the client, in order. */
  readonly forward: Buffer[];
  /** True once ReadyForQuery or an ErrorResponse has been forwarded. */
  readonly finished: boolean;
}

export class BackendStartup {
  readonly #issueKey: IssueKey;
  #pending: Buffer = Buffer.alloc(0);
  #finished = false;
  /** Which message ended the startup, once one did. */
  endedWith: "ready" | "error" | undefined;

  constructor(issueKey: IssueKey) {
    this.#issueKey = issueKey;
  }

  /** Feeds backend bytes. Throws a SqlStateError on a malformed message. */
  push(chunk: Buffer): StartupProgress {
    if (this.#finished) return { forward: [chunk], finished: true };
    const data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const forward: Buffer[] = [];
    let passFrom = 0;
    let offset = 0;
    while (!this.#finished && data.length - offset >= HEADER_LENGTH) {
      const type = data[offset];
      const length = data.readInt32BE(offset + 1);
      if (length < 4 || length > MAX_STARTUP_MESSAGE_LENGTH) {
        throw new SqlStateError("08P01", "the server sent an invalid message during startup");
      }
      const end = offset + 1 + length;
      if (end > data.length) break;
      if (type === 0x4b /* K: BackendKeyData */) {
        forward.push(data.subarray(passFrom, offset), this.#rewriteKey(data.subarray(offset, end)));
        passFrom = end;
      } else if (type === 0x5a /* Z: ReadyForQuery */) {
        this.#finished = true;
        this.endedWith = "ready";
      } else if (type === 0x45 /* E: ErrorResponse */) {
        this.#finished = true;
        this.endedWith = "error";
      }
      offset = end;
    }
    // Whole messages (and, once finished, everything after) go on at once;
    // only a partial message waits for more bytes.
    const keepFrom = this.#finished ? data.length : offset;
    if (keepFrom > passFrom) forward.push(data.subarray(passFrom, keepFrom));
    this.#pending = Buffer.from(data.subarray(keepFrom));
    return { forward: forward.filter((piece) => piece.length > 0), finished: this.#finished };
  }

  #rewriteKey(message: Buffer): Buffer {
    if (message.length < 13) {
      throw new SqlStateError("08P01", "the server sent an invalid BackendKeyData message");
    }
    const backendKey = {
      processId: message.readInt32BE(5),
      secretKey: Buffer.from(message.subarray(9)),
    };
    const clientKey = this.#issueKey(backendKey);
    const rewritten = Buffer.allocUnsafe(message.length);
    message.copy(rewritten, 0, 0, 9);
    rewritten.writeInt32BE(clientKey.processId, 5);
    clientKey.secretKey.copy(rewritten, 9);
    return rewritten;
  }
}
