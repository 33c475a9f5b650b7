// Payload codecs for framed RPC. JSON is the default every peer speaks;
// MessagePack is used when both sides offer it in the handshake.
import { Packr } from "msgpackr";

export type CodecName = "json" | "msgpack";

export interface Codec {
  readonly name: CodecName;
  /** An empty result stands for "no value" (undefined). */
  encode(value: unknown): Buffer | string;
  decode(bytes: Buffer): unknown;
}

export const jsonCodec: Codec = {
  name: "json",
  encode: (value) => (value === undefined ? "" : JSON.stringify(value)),
  decode: (bytes) => (bytes.length === 0 ? undefined : JSON.parse(bytes.toString("utf8"))),
};

// Plain MessagePack (no msgpackr records or extensions) so any language's library reads it.
// Unlike JSON.parse, msgpackr renames an object key "__proto__" to
// "__proto_" as it decodes, a guard against prototype pollution.
const packr = new Packr({ useRecords: false, moreTypes: false });

export const msgpackCodec: Codec = {
  name: "msgpack",
  encode: (value) => (value === undefined ? Buffer.alloc(0) : packr.pack(value)),
  decode: (bytes) => (bytes.length === 0 ? undefined : packr.unpack(bytes)),
};

export const codecs: Readonly<Record<CodecName, Codec>> = {
  json: jsonCodec,
  msgpack: msgpackCodec,
};

/** The server's choice: the first codec the client offers that the server also allows; JSON otherwise. */
export function negotiateCodec(offered: readonly unknown[], allowed: readonly CodecName[]): Codec {
  for (const name of offered) {
    if (typeof name === "string" && (allowed as readonly string[]).includes(name)) {
      return codecs[name as CodecName];
    }
  }
  return jsonCodec;
}
