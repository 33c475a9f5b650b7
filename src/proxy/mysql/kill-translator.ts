// Translates `KILL [CONNECTION|QUERY] <id>` (and the older binary
// COM_PROCESS_KILL command) on its way to the backend. A
// client only knows the proxy's connection ids (the proxy greeted it), so
// when the id names a session of this proxy on the same backend server it
// is replaced by that session's backend thread id. Ids the proxy does not
// know, or sessions on other servers, pass unchanged: the backend then
// answers with its own "Unknown thread id" error, as it would directly.
//
// The translator follows packet boundaries in the client's byte stream and
// looks only at small packets that start a command. It runs on each chunk
// the relay reads (no stream in between) and hands back the very same
// buffer unless a KILL was rewritten or a packet it must look at is cut.
//
// It is also a command watch (relay.ts): where the kernel relays the
// client's bytes, its verdict program follows the same framing rules
// (native/kernel-splice/src/verdict_program.c) and hands the stream back
// here, with the framing state it had, at the first chunk that may hold a
// KILL.
import type { CommandWatch, MysqlFraming, Route } from "../core/index.ts";
import type { ConnectionIds } from "./connection-ids.ts";
import { encodePacket, HEADER_SIZE, MAX_PAYLOAD } from "./packet.ts";

const COM_QUERY = 0x03;
const COM_PROCESS_KILL = 0x0c;
/** COM_PROCESS_KILL: the command byte and a 4-byte id; nothing shorter can be a KILL. */
const MIN_KILL_PAYLOAD = 5;
/** Longer commands are not inspected (a KILL statement is short). */
const MAX_KILL_PAYLOAD = 256;
const KILL_STATEMENT =
  /^(\s*KILL\s+(?:(?:HARD|SOFT)\s+)?(?:(?:CONNECTION|QUERY)\s+)?)(\d{1,10})(\s*;?\s*)$/i;
const NO_BYTES = Buffer.alloc(0);

export class KillTranslator implements CommandWatch {
  readonly #ids: ConnectionIds;
  readonly #route: Route;
  /** Bytes of the current packet still to pass before the next header. */
  #remaining = 0;
  /** An incomplete header or candidate packet, waiting for more bytes. */
  #held: Buffer | undefined;
  /** Header of the client's previous packet. */
  #previousSequence = 0;
  #previousLength = 0;

  constructor(ids: ConnectionIds, route: Route) {
    this.#ids = ids;
    this.#route = route;
  }

  get framing(): MysqlFraming | undefined {
    if (this.#held !== undefined) return undefined;
    return {
      remaining: this.#remaining,
      previousHeader: (this.#previousLength | (this.#previousSequence << 24)) >>> 0,
    };
  }

  resumeAt(framing: MysqlFraming): void {
    this.#held = undefined;
    this.#remaining = framing.remaining;
    this.#previousLength = framing.previousHeader & MAX_PAYLOAD;
    this.#previousSequence = framing.previousHeader >>> 24;
  }

  /**
   * The bytes to send to the backend for `chunk`, the next piece of the
   * client's stream: `chunk` itself unless a KILL was rewritten, less the
   * tail of a header or candidate packet it does not hold whole yet.
   */
  readonly translate = (chunk: Buffer): Buffer => {
    // Inside a long packet (a big INSERT, LOAD DATA contents): nothing to look at.
    if (this.#remaining >= chunk.length) {
      this.#remaining -= chunk.length;
      return chunk;
    }
    const data = this.#held ? Buffer.concat([this.#held, chunk]) : chunk;
    this.#held = undefined;
    let at = 0; // parse position
    let from = 0; // first byte not yet handed out
    let pieces: Buffer[] | undefined; // what is handed out, once a KILL was rewritten
    while (at < data.length) {
      if (this.#remaining > 0) {
        const step = Math.min(this.#remaining, data.length - at);
        at += step;
        this.#remaining -= step;
        continue;
      }
      if (data.length - at < HEADER_SIZE) break;
      const length = data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16);
      const sequence = data[at + 3]!;
      const candidate =
        this.#startsCommand(sequence) && length >= MIN_KILL_PAYLOAD && length <= MAX_KILL_PAYLOAD;
      if (!candidate) {
        this.#previousSequence = sequence;
        this.#previousLength = length;
        this.#remaining = length;
        at += HEADER_SIZE;
        continue;
      }
      const end = at + HEADER_SIZE + length;
      if (end > data.length) break;
      this.#previousSequence = sequence;
      this.#previousLength = length;
      const translated = this.#rewritten(data, at + HEADER_SIZE, end);
      if (translated) {
        pieces ??= [];
        pieces.push(data.subarray(from, at), encodePacket(0, translated));
        from = end;
      }
      at = end;
    }
    if (at < data.length) this.#held = Buffer.from(data.subarray(at));
    if (pieces) {
      pieces.push(data.subarray(from, at));
      return Buffer.concat(pieces);
    }
    if (at === data.length) return data;
    return at === 0 ? NO_BYTES : data.subarray(0, at);
  };

  /**
   * Whether a packet with this sequence id starts a command. Commands start
   * at 0, but so does every 256th packet of a long client stream (LOAD DATA
   * LOCAL file contents, which end with an empty packet) and the
   * continuation of a 16 MiB packet.
   */
  #startsCommand(sequence: number): boolean {
    if (sequence !== 0) return false;
    const length = this.#previousLength;
    return length !== MAX_PAYLOAD && !(this.#previousSequence === 0xff && length > 0);
  }

  /** The rewritten payload of the command in `data[start, end)`, or undefined to leave it as it is. */
  #rewritten(data: Buffer, start: number, end: number): Buffer | undefined {
    const command = data[start];
    if (command === COM_PROCESS_KILL && end - start === 5) {
      const backendId = this.#ids.backendIdOnSameServer(data.readUInt32LE(start + 1), this.#route);
      if (backendId === undefined) return undefined;
      const translated = Buffer.from(data.subarray(start, end));
      translated.writeUInt32LE(backendId, 1);
      return translated;
    }
    if (command !== COM_QUERY) return undefined;
    // With query attributes the text follows "no parameters, one set".
    const textStart = data[start + 1] === 0x00 && data[start + 2] === 0x01 ? start + 3 : start + 1;
    if (!startsWithK(data, textStart, end)) return undefined; // most queries stop here
    const match = KILL_STATEMENT.exec(data.toString("latin1", textStart, end));
    if (!match) return undefined;
    const [, head, id, tail] = match as unknown as [string, string, string, string];
    const backendId = this.#ids.backendIdOnSameServer(Number(id), this.#route);
    if (backendId === undefined) return undefined;
    return Buffer.concat([
      data.subarray(start, textStart),
      Buffer.from(`${head}${backendId}${tail}`, "latin1"),
    ]);
  }
}

/** Whether the first non-blank byte in `data[start, end)` is "K" or "k", without decoding text. */
function startsWithK(data: Buffer, start: number, end: number): boolean {
  let at = start;
  while (at < end && isBlank(data[at]!)) at++;
  return at < end && (data[at]! | 0x20) === 0x6b;
}

function isBlank(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}
