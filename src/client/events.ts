import type { SwitchboardClientError } from "./errors.ts";
import type { Hello } from "./frames.ts";
import type { ReconnectCause } from "./reconnect-policy.ts";
import type { RecoveryFailure } from "./subscription.ts";

export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

export interface ClientEvents {
  /** A socket is being opened (`attempt` counts consecutive failures, 0 on the first try). */
  connecting: { attempt: number };
  /** Authenticated; subscriptions are being restored. */
  connected: Hello;
  /** The socket closed. `willReconnect` is false after `close()` or a terminal failure (see `error`). */
  disconnected: { code: number; reason: string; willReconnect: boolean };
  /**
   * A reconnect is scheduled in `delayMs`. `cause`: `backoff` (jittered
   * exponential), `server` (the delay a draining node advised; `reason` is
   * its reason) or `token` (the token was refused or expired; a fresh one is fetched).
   */
  reconnecting: { attempt: number; delayMs: number; cause: ReconnectCause; reason?: string };
  /** Unsolicited server errors, refused resubscribes, failed token refreshes, terminal failures. */
  error: SwitchboardClientError;
  /** A resubscribe could not recover every missed message (also given to the subscription's onRecoveryFailed). */
  recoveryFailed: RecoveryFailure;
  /** The token was renewed on the open connection; `exp` in seconds since the epoch. */
  tokenRefreshed: { exp: number };
}
