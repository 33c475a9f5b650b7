// What every dialect's connection handler shares with its server.
import type { Logger } from "pino";
import type { TokenCheck } from "../security/token.ts";
import type { ServiceRuntime } from "../service/runtime.ts";
import type { CodecName } from "../wire/codec.ts";
import type { ServerLimits } from "./limits.ts";
import type { ServerStats } from "./server-stats.ts";

export interface ConnectionHost {
  readonly runtime: ServiceRuntime;
  readonly tokenCheck: TokenCheck;
  readonly limits: ServerLimits;
  readonly stats: ServerStats;
  readonly log: Logger;
  readonly codecs: readonly CodecName[];
}

/** A connection handler the server can ask to wind down. */
export interface DialectConnection {
  /** Finish what is in flight, accept nothing new, then close. */
  drain(): void;
}
