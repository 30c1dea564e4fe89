import type { Hub } from "./hub.ts";
import type { Conn } from "./ports.ts";

const PRESENCE_SUFFIX = "#p";

/**
 * Re-checks every live subscription of `conn` against its current principal
 * (after a `refresh`) and ends the ones it no longer allows: unsubscribed at
 * once, so no further `msg` reaches the socket, then an unsolicited `err`
 * with the channel and AUTHORIZATION_FAILED. Returns how many ended.
 */
export function revokeDisallowed(hub: Hub, conn: Conn): number {
  const p = conn.data.principal;
  if (!p || conn.data.subs === 0) return 0;
  const policy = hub.deps.policy;
  let ended = 0;
  for (const topic of conn.subscriptions) {
    if (topic.endsWith(PRESENCE_SUFFIX)) continue;
    const ch = topic.slice(topic.indexOf("/") + 1);
    let allowed: boolean;
    try {
      const c = policy.resolve(ch);
      // Record rules (chat's `member`) do not depend on the token: a membership change revokes by itself.
      allowed = policy.canSubscribe(p, c) || c.subscribeRecordRules.length > 0;
    } catch {
      // A namespace that no longer exists allows nobody.
      allowed = false;
    }
    if (allowed) continue;
    if (hub.endSubscription(conn, topic, ch, "AUTHORIZATION_FAILED", `access to ${ch} was revoked`)) ended++;
  }
  return ended;
}
