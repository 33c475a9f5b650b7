// Watches the bytes of a relayed session, without changing them, to tell
// when it is between commands: every command the client sent has its reply,
// and the client is not in the middle of a line, a message (DATA, or the
// chunks of BDAT up to LAST) or an AUTH exchange. That is the one moment the
// proxy may end the session with a 421 of its own when it shuts down
// (RFC 5321 §3.8). When the bytes stop making sense as SMTP (STARTTLS end to
// end, a garbled reply, a client that sends far more commands than it has
// replies for) the session is never between commands again, and shutdown
// waits for the drain deadline. After the client's QUIT it is never between
// commands either: the session ends by itself, and a 421 of the proxy's own
// would only follow the 221.
import { ReplyReader, type SmtpReply } from "./reply.ts";

type ClientMode =
  /** Command lines; `#line` holds the start of the current one. */
  | "line"
  /** Message content after DATA's 354, up to the line ".". */
  | "data"
  /** The bytes of a BDAT chunk, `#chunkLeft` of them. */
  | "chunk"
  /** Nothing more can be read: TLS end to end, or bytes that are not SMTP. */
  | "opaque"
  /** The client sent QUIT: the session is ending by itself. */
  | "ended";

/**
 * Commands awaiting replies beyond which the session is no longer followed:
 * pipelined groups are far smaller, and the list must not grow without bound.
 */
const MAX_AWAITING = 1000;
/** Enough of a line to read its verb and a BDAT size. */
const LINE_PREFIX = 64;
/** CRLF "." CRLF: the end of a message's content (RFC 5321 §4.1.1.4). */
const DATA_END = [0x0d, 0x0a, 0x2e, 0x0d, 0x0a];
const BDAT = /^BDAT +([0-9]{1,15})( +LAST)? *\r?\n?$/i;
/** What `#awaiting` holds for a BDAT with LAST, apart from the other chunks. */
const BDAT_LAST = "BDAT LAST";
/** Commands whose reply ends a BDAT message, whatever its code (RFC 3030 §2, §4). */
const ENDS_BDAT = new Set([BDAT_LAST, "RSET", "EHLO", "HELO"]);

export class RelayedExchange {
  readonly #replies = new ReplyReader();
  #mode: ClientMode = "line";
  /** The start of the client's current command line; empty at a line start. */
  #line = "";
  /** What each reply still awaited answers, in order: a verb, or "." for a message. */
  readonly #awaiting: string[] = [];
  /** A BDAT chunk other than the last was accepted: the message is still open. */
  #bdatOpen = false;
  /** The backend's last reply was a 334: the client's next line answers AUTH. */
  #sasl = false;
  /** In "data": how much of CRLF "." CRLF has been seen at the current position. */
  #dataEnd = 2;
  #chunkLeft = 0;

  /** True when the session is between commands (see above). */
  get idle(): boolean {
    return (
      this.#mode === "line" &&
      this.#line === "" &&
      this.#awaiting.length === 0 &&
      !this.#bdatOpen &&
      !this.#sasl &&
      !this.#replies.partial
    );
  }

  /** Bytes on their way from the client to the backend. */
  fromClient(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && this.#mode !== "opaque" && this.#mode !== "ended") {
      if (this.#mode === "line") offset = this.#readLine(chunk, offset);
      else if (this.#mode === "data") offset = this.#readData(chunk, offset);
      else offset = this.#readChunk(chunk, offset);
    }
  }

  /** Bytes on their way from the backend to the client. */
  fromBackend(chunk: Buffer): void {
    if (this.#mode === "opaque" || this.#mode === "ended") return;
    let replies: SmtpReply[];
    try {
      replies = this.#replies.push(chunk);
    } catch {
      this.#mode = "opaque";
      return;
    }
    for (const reply of replies) {
      // A reply nothing waits for (a backend's own 421) changes nothing here.
      const answered = this.#awaiting.shift();
      if (answered === undefined) continue;
      this.#sasl = reply.code === 334;
      if (answered === "BDAT") this.#bdatOpen = reply.code < 300;
      else if (ENDS_BDAT.has(answered)) this.#bdatOpen = false;
      if (answered === "DATA" && reply.code === 354) {
        this.#mode = "data";
        this.#dataEnd = 2;
      } else if (answered === "STARTTLS" && reply.code === 220) {
        this.#mode = "opaque";
      }
    }
  }

  #readLine(chunk: Buffer, offset: number): number {
    const newline = chunk.indexOf(0x0a, offset);
    const end = newline < 0 ? chunk.length : newline + 1;
    if (this.#line.length < LINE_PREFIX) {
      this.#line += chunk.toString("latin1", offset, Math.min(end, offset + LINE_PREFIX));
    }
    if (newline < 0) return end;
    const line = this.#line;
    this.#line = "";
    // A line that answers a 334 is SASL data, even when it reads like a verb.
    const verb = this.#sasl ? "" : /^[A-Za-z]*/.exec(line)![0].toUpperCase();
    const bdat = verb === "BDAT" ? BDAT.exec(line) : null;
    if (bdat) {
      this.#chunkLeft = Number(bdat[1]);
      if (this.#chunkLeft > 0) this.#mode = "chunk";
    }
    this.#awaiting.push(bdat?.[2] ? BDAT_LAST : verb);
    if (verb === "QUIT") this.#mode = "ended";
    if (this.#awaiting.length > MAX_AWAITING) this.#mode = "opaque";
    return end;
  }

  /** Looks for the end of the message: CRLF "." CRLF, the first CRLF being DATA's own. */
  #readData(chunk: Buffer, offset: number): number {
    let at = offset;
    while (at < chunk.length) {
      if (this.#dataEnd === 0) {
        // Mid-line: only a CR can start the end.
        at = chunk.indexOf(0x0d, at);
        if (at < 0) return chunk.length;
      }
      const byte = chunk[at]!;
      at += 1;
      if (byte === DATA_END[this.#dataEnd]) this.#dataEnd += 1;
      else this.#dataEnd = byte === 0x0d ? 1 : 0;
      if (this.#dataEnd === DATA_END.length) {
        this.#mode = "line";
        this.#awaiting.push(".");
        return at;
      }
    }
    return at;
  }

  #readChunk(chunk: Buffer, offset: number): number {
    const taken = Math.min(this.#chunkLeft, chunk.length - offset);
    this.#chunkLeft -= taken;
    if (this.#chunkLeft === 0) this.#mode = "line";
    return offset + taken;
  }
}
