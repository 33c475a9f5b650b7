// Translates `KILL [CONNECTION|QUERY] <id>` (and the older binary
// COM_PROCESS_KILL command) on its way to the backend. A
// client only knows the proxy's connection ids (the proxy greeted it), so
// when the id names a session of this proxy on the same backend server it
// is replaced by that session's backend thread id. Ids the proxy does not
// know, or sessions on other servers, pass unchanged: the backend then
// answers with its own "Unknown thread id" error, as it would directly.
//
// The translator follows packet boundaries in the client's byte stream and
// looks only at small packets that start a command; everything else is
// passed on as the very same buffers.
import { Transform, type TransformCallback } from "node:stream";
import type { Route } from "../core/index.ts";
import type { ConnectionIds } from "./connection-ids.ts";
import { encodePacket, HEADER_SIZE, MAX_PAYLOAD } from "./packet.ts";

const COM_QUERY = 0x03;
const COM_PROCESS_KILL = 0x0c;
/** COM_PROCESS_KILL: the command byte and a 4-byte id; nothing shorter can be a KILL. */
const MIN_KILL_PAYLOAD = 5;
/** Longer commands are not inspected (a KILL statement is short). */
const MAX_KILL_PAYLOAD = 256;
const BLANKS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const KILL_STATEMENT =
  /^(\s*KILL\s+(?:(?:HARD|SOFT)\s+)?(?:(?:CONNECTION|QUERY)\s+)?)(\d{1,10})(\s*;?\s*)$/i;

export class KillTranslator extends Transform {
  readonly #ids: ConnectionIds;
  readonly #route: Route;
  /** Bytes of the current packet still to pass before the next header. */
  #remaining = 0;
  /** An incomplete header or candidate packet, waiting for more bytes. */
  #held: Buffer | undefined;
  /** Header of the client's previous packet. */
  #previous = { sequence: 0, length: 0 };

  constructor(ids: ConnectionIds, route: Route) {
    super();
    this.#ids = ids;
    this.#route = route;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const data = this.#held ? Buffer.concat([this.#held, chunk]) : chunk;
    this.#held = undefined;
    let at = 0; // parse position
    let from = 0; // first byte not yet pushed
    while (at < data.length) {
      if (this.#remaining > 0) {
        const step = Math.min(this.#remaining, data.length - at);
        at += step;
        this.#remaining -= step;
        continue;
      }
      if (data.length - at < HEADER_SIZE) break;
      const length = data.readUIntLE(at, 3);
      const sequence = data[at + 3]!;
      const candidate =
        this.#startsCommand(sequence) && length >= MIN_KILL_PAYLOAD && length <= MAX_KILL_PAYLOAD;
      if (!candidate) {
        this.#previous = { sequence, length };
        this.#remaining = length;
        at += HEADER_SIZE;
        continue;
      }
      if (data.length - at < HEADER_SIZE + length) break;
      this.#previous = { sequence, length };
      const end = at + HEADER_SIZE + length;
      const translated = this.#translate(data.subarray(at + HEADER_SIZE, end));
      if (translated) {
        if (at > from) this.push(data.subarray(from, at));
        this.push(encodePacket(0, translated));
        from = end;
      }
      at = end;
    }
    if (at < data.length) this.#held = Buffer.from(data.subarray(at));
    if (at > from) this.push(data.subarray(from, at));
    done();
  }

  /**
   * Whether a packet with this sequence id starts a command. Commands start
   * at 0, but so does every 256th packet of a long client stream (LOAD DATA
   * LOCAL file contents, which end with an empty packet) and the
   * continuation of a 16 MiB packet.
   */
  #startsCommand(sequence: number): boolean {
    if (sequence !== 0) return false;
    const { sequence: before, length } = this.#previous;
    return length !== MAX_PAYLOAD && !(before === 0xff && length > 0);
  }

  /** The rewritten command payload, or undefined to leave it as it is. */
  #translate(payload: Buffer): Buffer | undefined {
    if (payload[0] === COM_PROCESS_KILL && payload.length === 5) {
      const backendId = this.#ids.backendIdOnSameServer(payload.readUInt32LE(1), this.#route);
      if (backendId === undefined) return undefined;
      const translated = Buffer.from(payload);
      translated.writeUInt32LE(backendId, 1);
      return translated;
    }
    if (payload[0] !== COM_QUERY) return undefined;
    // With query attributes the text follows "no parameters, one set".
    const textStart = payload[1] === 0x00 && payload[2] === 0x01 ? 3 : 1;
    if (!startsWithK(payload, textStart)) return undefined; // most queries stop here
    const match = KILL_STATEMENT.exec(payload.subarray(textStart).toString("latin1"));
    if (!match) return undefined;
    const [, head, id, tail] = match as unknown as [string, string, string, string];
    const backendId = this.#ids.backendIdOnSameServer(Number(id), this.#route);
    if (backendId === undefined) return undefined;
    return Buffer.concat([
      payload.subarray(0, textStart),
      Buffer.from(`${head}${backendId}${tail}`, "latin1"),
    ]);
  }
}

/** Whether the first non-blank byte from `start` is "K" or "k", without decoding text. */
function startsWithK(payload: Buffer, start: number): boolean {
  let at = start;
  while (at < payload.length && BLANKS.has(payload[at]!)) at++;
  return at < payload.length && (payload[at]! | 0x20) === 0x6b;
}
