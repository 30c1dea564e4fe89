/** Why the next connection attempt waits as long as it does. */
export type ReconnectCause = "backoff" | "server" | "token";

export type ReconnectDecision =
  | { stop: true; why: "token refused" | "token expired" | "closed by the server" }
  /**
   * `delayMs` undefined: the next backoff delay. `refused`: the server turned
   * this user away (4008); pending `connect()` calls reject with it while
   * the client keeps retrying.
   */
  | { stop: false; cause: ReconnectCause; delayMs?: number; reason?: string; refused?: "LIMIT_EXCEEDED" };

export interface CloseContext {
  /** A new token can be fetched (getToken given). */
  renewableToken: boolean;
  /** The `reconnect` frame of a draining node, if one came on this connection. */
  advised?: { at: number; afterMs: number; reason: string };
  now: number;
}

/**
 * What to do after the server closed the connection with `code` (PROTOCOL.md §5):
 * 1000 is the backend ending the user's session (`POST /v1/users/:user/disconnect`,
 * e.g. an account suspended), so it ends the client even with a valid token;
 * 4001 token refused / 4003 token expired end the client unless a new token can
 * be fetched (4003 then reconnects at once); a draining node's advice wins over
 * backoff; everything else (1001, 1006, 1008, 1012 without advice, 4008 …) backs off.
 * 4008 (too many connections for this user) also settles a waiting `connect()`:
 * it lasts until one of the user's other connections closes, which may be
 * never, so a caller learns of it instead of waiting forever.
 */
export function reconnectDecision(code: number, ctx: CloseContext): ReconnectDecision {
  if (code === 1000) return { stop: true, why: "closed by the server" };
  if (code === 4001 || code === 4003) {
    if (!ctx.renewableToken) return { stop: true, why: code === 4001 ? "token refused" : "token expired" };
    return code === 4003 ? { stop: false, cause: "token", delayMs: 0 } : { stop: false, cause: "token" };
  }
  if (ctx.advised) {
    return { stop: false, cause: "server", delayMs: Math.max(0, ctx.advised.at + ctx.advised.afterMs - ctx.now), reason: ctx.advised.reason };
  }
  if (code === 4008) return { stop: false, cause: "backoff", refused: "LIMIT_EXCEEDED" };
  return { stop: false, cause: "backoff" };
}
