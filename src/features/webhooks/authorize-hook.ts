import type { RecordRule } from "../../hub/features.ts";
import type { Logger } from "../../observability/logger.ts";
import { signHeaders } from "./signature.ts";

export interface AuthorizeHookOptions {
  url: string;
  timeoutMs: number;
  /** What an unanswered (timeout, error, non-2xx) question decides. */
  failOpen: boolean;
  secret: string | undefined;
  logger: Logger;
  onOutcome?: (outcome: "allowed" | "denied" | "failed") => void;
}

/**
 * The `backend` policy rule: a synchronous hook asking the backend whether
 * a user may subscribe to (or publish on) a channel, like Centrifugo's
 * proxies. The answer is `{"allow": true|false}`; anything else within the
 * timeout, or no answer, follows the fail-open/fail-closed setting.
 */
export function authorizeHook(o: AuthorizeHookOptions): RecordRule {
  return async (p, c, action) => {
    const body = JSON.stringify({ action, tenant: p.tenant, user: p.sub, roles: p.roles, ch: c.ch });
    const headers: Record<string, string> = { "content-type": "application/json", "x-switchboard-event": "authorize" };
    if (o.secret) signHeaders(o.secret, body, headers);
    try {
      const res = await fetch(o.url, { method: "POST", body, headers, redirect: "manual", signal: AbortSignal.timeout(o.timeoutMs) });
      const answer = res.ok ? ((await res.json().catch(() => undefined)) as { allow?: unknown } | undefined) : undefined;
      if (typeof answer?.allow === "boolean") {
        o.onOutcome?.(answer.allow ? "allowed" : "denied");
        return answer.allow;
      }
      throw new Error(res.ok ? "answer is not {allow: boolean}" : `HTTP ${res.status}`);
    } catch (err) {
      o.onOutcome?.("failed");
      o.logger.warn(`authorize hook unanswered; ${o.failOpen ? "allowing" : "denying"} as configured`, { err, action, ch: c.ch, tenant: p.tenant });
      return o.failOpen;
    }
  };
}
