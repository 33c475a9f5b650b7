// Cancel keys. A backend gives each session a key (BackendKeyData) that a
// CancelRequest on a new connection must quote. The proxy never shows the
// backend's key to the client: it issues a fresh random key of the same
// length (4 bytes in protocol 3.0, up to 256 in 3.2) and remembers which
// backend key and route it stands for. A client can therefore only cancel a
// query whose proxy key it was given; guessing another tenant's backend key
// gets it nowhere.
import { randomBytes } from "node:crypto";

export interface BackendKey {
  readonly processId: number;
  readonly secretKey: Buffer;
}

interface Entry<Target> {
  readonly backendKey: BackendKey;
  readonly target: Target;
}

/** Maps the keys the proxy issued to the backend keys and the backends they belong to. */
export class CancelKeyRegistry<Target> {
  readonly #entries = new Map<string, Entry<Target>>();

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Issues the key the client will see for `backendKey`. The process id is
   * kept (clients compare it with NotificationResponse senders); the secret
   * is replaced by random bytes.
   */
  issue(backendKey: BackendKey, target: Target): BackendKey {
    for (;;) {
      const clientKey = {
        processId: backendKey.processId,
        secretKey: randomBytes(backendKey.secretKey.length),
      };
      const id = keyId(clientKey);
      if (this.#entries.has(id)) continue;
      this.#entries.set(id, { backendKey, target });
      return clientKey;
    }
  }

  /** The backend key and target behind a key the proxy issued, if any. */
  find(clientKey: BackendKey): Entry<Target> | undefined {
    return this.#entries.get(keyId(clientKey));
  }

  release(clientKey: BackendKey): void {
    this.#entries.delete(keyId(clientKey));
  }
}

function keyId(key: BackendKey): string {
  return `${key.processId}:${key.secretKey.toString("hex")}`;
}
