// Counts a connection's failed authentications; past the limit the
// connection is closed, so a guessing client has to reconnect each time.
export class AuthFailures {
  readonly #limit: number;
  #count = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Records one failure; true when the connection should now be closed. */
  record(): boolean {
    this.#count++;
    return this.#count >= this.#limit;
  }
}
