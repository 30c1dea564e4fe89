/**
 * Where the client's JWT comes from: a fixed `token`, or `getToken()` which
 * is asked again when the server warns of expiry or rejects the token.
 */
export class TokenSource {
  private current: string | undefined;
  /** The token the server last rejected (close 4001/4003); a fetch returning it again is not fresh. */
  private rejected: string | undefined;

  constructor(
    token: string | undefined,
    private readonly getToken: (() => string | Promise<string>) | undefined,
  ) {
    if (token === undefined && getToken === undefined) throw new TypeError("SwitchboardClient needs `token` or `getToken`");
    this.current = token;
  }

  /** True when a new token can be fetched. */
  get renewable(): boolean {
    return this.getToken !== undefined;
  }

  /**
   * The token for the next `auth` frame: the cached one, or a fetched one
   * when none is cached. Resolves `undefined` when only the rejected token is
   * available (nothing fresh to try).
   */
  async forAuth(): Promise<string | undefined> {
    if (this.current === undefined && this.getToken) this.current = await this.getToken();
    if (this.current === undefined || this.current === this.rejected) return undefined;
    return this.current;
  }

  /** Fetches a new token (for `refresh` frames); throws when there is no `getToken`. */
  async fetch(): Promise<string> {
    if (!this.getToken) throw new TypeError("no getToken to renew the token");
    const token = await this.getToken();
    this.current = token;
    return token;
  }

  /** The server refused or expired `token`: drop it so the next auth fetches a new one. */
  reject(token: string | undefined): void {
    if (token === undefined) return;
    this.rejected = token;
    if (this.getToken && this.current === token) this.current = undefined;
  }
}
