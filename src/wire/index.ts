export {
  type Codec,
  type CodecName,
  codecs,
  jsonCodec,
  msgpackCodec,
  negotiateCodec,
} from "./codec.ts";
export { type Detection, type Dialect, detectDialect } from "./dialect.ts";
export {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameError,
  FrameType,
  HEADER_SIZE,
  PREFACE,
} from "./frame.ts";
export { JsonMessageSplitter, LineTooLongError } from "./json-lines.ts";
export {
  decodeHello,
  decodeJsonObject,
  decodeRequest,
  encodeJson,
  encodeRequest,
  type Hello,
  PayloadError,
  PROTOCOL_VERSION,
  type Welcome,
  type WireError,
  type WireRequest,
} from "./messages.ts";
