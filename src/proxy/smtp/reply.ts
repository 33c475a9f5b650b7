// SMTP replies (RFC 5321 §4.2): a three-digit code and one or more lines of
// text, written `250-first`, `250-…`, `250 last`; a last line may also be
// the code alone (`250`: `Reply-code [ SP textstring ] CRLF`). The proxy writes its own and
// reads the backend's while it replays the session's start.

export interface SmtpReply {
  readonly code: number;
  /** Text of each line, without the code and separator. */
  readonly lines: readonly string[];
}

export function formatReply(reply: SmtpReply): string {
  const last = reply.lines.length - 1;
  return reply.lines.map((line, i) => `${reply.code}${i === last ? " " : "-"}${line}\r\n`).join("");
}

/** A backend reply that breaks the grammar; the backend is then treated as down. */
export class SmtpReplyError extends Error {
  readonly code = "ERR_NEXUS_SMTP_REPLY";
  constructor(message: string) {
    super(message);
    this.name = "SmtpReplyError";
  }
}

const REPLY_LINE = /^([2-5][0-9][0-9])(?:([ -])(.*))?$/s;
/** RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; leave room for long ones. */
const MAX_REPLY_LINE = 4096;
const MAX_REPLY_LINES = 100;

/** Turns a stream of bytes into whole replies. */
export class ReplyReader {
  #pending = "";
  #lines: string[] = [];
  #code = 0;

  /** Adds bytes; returns the replies they complete. Throws SmtpReplyError. */
  push(chunk: Buffer): SmtpReply[] {
    this.#pending += chunk.toString("latin1");
    const replies: SmtpReply[] = [];
    for (;;) {
      const end = this.#pending.indexOf("\n");
      if (end < 0) break;
      const line = this.#pending.slice(0, end).replace(/\r$/, "");
      this.#pending = this.#pending.slice(end + 1);
      const reply = this.#addLine(line);
      if (reply) replies.push(reply);
    }
    if (this.#pending.length > MAX_REPLY_LINE) throw new SmtpReplyError("reply line too long");
    return replies;
  }

  /** True while a reply has begun but not ended. */
  get partial(): boolean {
    return this.#pending.length > 0 || this.#lines.length > 0;
  }

  /** Bytes received after the last whole reply. */
  get buffered(): Buffer {
    return Buffer.from(this.#pending, "latin1");
  }

  #addLine(line: string): SmtpReply | undefined {
    if (line.length > MAX_REPLY_LINE) throw new SmtpReplyError("reply line too long");
    const match = REPLY_LINE.exec(line);
    if (!match) throw new SmtpReplyError(`not an SMTP reply: ${JSON.stringify(line.slice(0, 80))}`);
    const code = Number(match[1]);
    if (this.#lines.length > 0 && code !== this.#code) {
      throw new SmtpReplyError("reply lines with different codes");
    }
    if (this.#lines.length >= MAX_REPLY_LINES) throw new SmtpReplyError("too many reply lines");
    this.#code = code;
    this.#lines.push(match[3] ?? "");
    if (match[2] === "-") return undefined;
    const reply = { code, lines: this.#lines };
    this.#lines = [];
    return reply;
  }
}
