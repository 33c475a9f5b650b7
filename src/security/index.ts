export { AuthFailures } from "./auth-failures.ts";
export {
  DEFAULT_SOCKET_DIR,
  DIRECTORY_MODE,
  ensureSocketDir,
  parseSocketName,
  resolveSocketDir,
  SOCKET_MODE,
  socketPathFor,
} from "./socket-dir.ts";
export { loadOrCreateToken, TOKEN_FILE_NAME, TokenCheck, tokenPathFor } from "./token.ts";
