import type { PublishQuestion, RecordRule } from "../../hub/features.ts";
import type { Principal } from "../../hub/ports.ts";
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

/** The publish side adds per-namespace URLs (a namespace's `publishUrl`) over the default one. */
export interface PublishHookOptions extends Omit<AuthorizeHookOptions, "url"> {
  url: string | undefined;
}

/**
 * Asks the backend one yes/no question at `url` (POST `body`, signed when
 * there is a secret). The answer is `{"allow": true|false}`; anything else
 * within the timeout, or no answer, follows the fail-open/fail-closed setting.
 */
async function ask(o: Omit<AuthorizeHookOptions, "url">, url: string, body: string, action: string, p: Principal, ch: string): Promise<boolean> {
  const headers: Record<string, string> = { "content-type": "application/json", "x-switchboard-event": "authorize" };
  if (o.secret) signHeaders(o.secret, body, headers);
  try {
    const res = await fetch(url, { method: "POST", body, headers, redirect: "manual", signal: AbortSignal.timeout(o.timeoutMs) });
    const answer = res.ok ? ((await res.json().catch(() => undefined)) as { allow?: unknown } | undefined) : undefined;
    if (typeof answer?.allow === "boolean") {
      o.onOutcome?.(answer.allow ? "allowed" : "denied");
      return answer.allow;
    }
    throw new Error(res.ok ? "answer is not {allow: boolean}" : `HTTP ${res.status}`);
  } catch (err) {
    o.onOutcome?.("failed");
    o.logger.warn(`${action} hook unanswered; ${o.failOpen ? "allowing" : "denying"} as configured`, { err, action, ch, tenant: p.tenant });
    return o.failOpen;
  }
}

/** The question's body: who, where, and for a publish the event and its data (the client's JSON, embedded as sent). */
function question(action: "subscribe" | "publish", p: Principal, ch: string, pub: PublishQuestion | undefined): string {
  const head = JSON.stringify({ action, tenant: p.tenant, user: p.sub, roles: p.roles, ch, ...(pub ? { ev: pub.ev } : {}) });
  return pub ? head.slice(0, -1) + ',"data":' + pub.data + "}" : head;
}

/**
 * The `backend` rule for both sides: subscriptions ask WEBHOOK_AUTHORIZE_URL,
 * publications ask the namespace's `publishUrl` or WEBHOOK_PUBLISH_URL
 * ("may user X publish event E to channel C?", like Centrifugo's publish
 * proxy). Only namespaces whose rules name `backend` ever get here. A side
 * with no hook configured denies (the config loader refuses that setup).
 */
export function backendRule(hooks: { subscribe?: AuthorizeHookOptions; publish?: PublishHookOptions }): RecordRule {
  return (p, c, action, pub) => {
    if (action === "subscribe") return hooks.subscribe ? ask(hooks.subscribe, hooks.subscribe.url, question(action, p, c.ch, undefined), action, p, c.ch) : false;
    const url = c.policy.publishUrl ?? hooks.publish?.url;
    return hooks.publish && url ? ask(hooks.publish, url, question(action, p, c.ch, pub), action, p, c.ch) : false;
  };
}
