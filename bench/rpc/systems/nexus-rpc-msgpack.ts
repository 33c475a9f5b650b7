// Nexus framed RPC as in nexus-rpc.ts, with MessagePack agreed in the handshake.
import { nexusRpcWith } from "./nexus-rpc.ts";

export const nexusRpcMsgpack = nexusRpcWith("msgpack");
