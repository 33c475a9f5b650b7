// Where the token is: the running orchestrator knows (its config may name
// another file); without one, the socket directory's default token file.
import type { OrchestratorInfo } from "../orchestrator/orchestrator.ts";
import { tokenPathFor } from "../security/index.ts";
import { NoOrchestratorError, sendControl } from "./control-client.ts";

export async function findTokenFile(socketDir: string): Promise<string> {
  try {
    return ((await sendControl(socketDir, { command: "info" })) as OrchestratorInfo).tokenFile;
  } catch (error) {
    if (error instanceof NoOrchestratorError) return tokenPathFor(socketDir);
    throw error;
  }
}
