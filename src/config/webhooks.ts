import * as v from "valibot";
import { WEBHOOK_EVENTS, type WebhookEvent } from "../features/webhooks/webhook-events.ts";
import type { Namespaces } from "./policy.ts";
import type { Settings } from "./settings.ts";

/** The webhooks part of the configuration (features/webhooks and the `backend` rule). */
export interface WebhooksConfig {
  attempts: number;
  backoffMs: number;
  timeoutMs: number;
  pollMs: number;
  authorize: { url: string; timeoutMs: number; failOpen: boolean } | undefined;
  /** The `backend` publish rule; `url` undefined when only namespaces' `publishUrl`s are used. */
  publish: { url: string | undefined; timeoutMs: number; failOpen: boolean };
  /** Delivered and dead deliveries are deleted after this long; 0 = kept. */
  retentionSec: number;
  /** Static endpoints of the config file's `webhooks`. */
  static: StaticWebhook[];
}

export function webhooksConfig(st: Settings, statics: StaticWebhook[]): WebhooksConfig {
  return {
    attempts: st.WEBHOOK_ATTEMPTS!,
    backoffMs: st.WEBHOOK_BACKOFF_MS!,
    timeoutMs: st.WEBHOOK_TIMEOUT_MS!,
    pollMs: st.WEBHOOK_POLL_MS!,
    authorize: st.WEBHOOK_AUTHORIZE_URL ? { url: st.WEBHOOK_AUTHORIZE_URL, timeoutMs: st.WEBHOOK_AUTHORIZE_TIMEOUT_MS!, failOpen: st.WEBHOOK_AUTHORIZE_FAIL === "open" } : undefined,
    publish: { url: st.WEBHOOK_PUBLISH_URL, timeoutMs: st.WEBHOOK_PUBLISH_TIMEOUT_MS!, failOpen: st.WEBHOOK_PUBLISH_FAIL === "open" },
    retentionSec: st.WEBHOOK_RETENTION_SEC!,
    static: statics,
  };
}

/** The `backend` rule needs its hook's URL; a namespace's `publishUrl` needs the rule. */
export function webhookNamespaceProblems(namespaces: Namespaces, st: Settings): string[] {
  const out: string[] = [];
  for (const [ns, p] of Object.entries(namespaces)) {
    if (!st.WEBHOOK_AUTHORIZE_URL && p.subscribe.includes("backend")) out.push(`namespaces.${ns}: the backend rule needs WEBHOOK_AUTHORIZE_URL`);
    if (p.publish.includes("backend") && !st.WEBHOOK_PUBLISH_URL && !p.publishUrl) out.push(`namespaces.${ns}.publish: the backend rule needs WEBHOOK_PUBLISH_URL or the namespace's publishUrl`);
    if (p.publishUrl && !p.publish.includes("backend")) out.push(`namespaces.${ns}.publishUrl: only the backend publish rule asks it; add "backend" to publish or drop publishUrl`);
  }
  return out;
}

/** A webhook endpoint of the config file's `webhooks` list, its secret resolved. */
export interface StaticWebhook {
  tenant: string;
  id: string;
  url: string;
  secret: string;
  events: WebhookEvent[];
  namespaces: string[];
  ratePerSec: number;
}

const Name = (what: string) => v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_.@=\-]{1,64}$/, `must be ${what}: 1–64 of [A-Za-z0-9_.@=-]`));

const StaticWebhookSchema = v.strictObject({
  tenant: v.optional(v.pipe(v.string("must be a string"), v.maxLength(128, "at most 128 characters")), ""),
  id: Name("an endpoint id"),
  url: v.pipe(v.string("must be a string"), v.url("must be a URL"), v.regex(/^https?:\/\//, "must be an http(s) URL")),
  /** The signing secret itself, or the name of the environment variable holding it (keeps it out of the file). */
  secret: v.optional(v.pipe(v.string("must be a string"), v.minLength(16, "must be at least 16 characters"), v.maxLength(200, "at most 200 characters"))),
  secretEnv: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must be an environment variable name"))),
  events: v.pipe(v.array(v.picklist(WEBHOOK_EVENTS, `must be one of ${WEBHOOK_EVENTS.join(", ")}`), "must be an array"), v.minLength(1, "must not be empty")),
  namespaces: v.optional(v.pipe(v.array(Name("a namespace name"), "must be an array"), v.maxLength(100, "at most 100 namespaces")), []),
  ratePerSec: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(0, "must be ≥ 0"), v.maxValue(10_000, "must be ≤ 10000")), 50),
});

/**
 * The config file's `webhooks`: endpoints every node upserts into the store
 * at start (like the static jobs), so a deployment can ship its backend's
 * endpoints with its configuration. Every problem names its field
 * (`webhooks.1.secretEnv: …`); a secret never appears in a message.
 */
export function parseStaticWebhooks(raw: unknown, env: Record<string, string | undefined>, problems: string[]): StaticWebhook[] {
  const r = v.safeParse(v.array(StaticWebhookSchema, "must be a list of endpoints"), raw);
  if (!r.success) {
    for (const issue of r.issues) {
      const path = v.getDotPath(issue);
      const key = path?.split(".").at(-1);
      const msg = issue.kind === "schema" && issue.expected === "never" ? `unknown key "${key}"` : issue.input === undefined ? "is required" : issue.message;
      problems.push(`webhooks${path ? "." + path : ""}: ${msg}`);
    }
    return [];
  }
  const out: StaticWebhook[] = [];
  const seen = new Set<string>();
  r.output.forEach((w, i) => {
    const at = `webhooks.${i}`;
    const before = problems.length;
    if (seen.has(w.tenant + "\u0000" + w.id)) problems.push(`${at}.id: ${w.id} is listed twice for tenant ${JSON.stringify(w.tenant)}`);
    seen.add(w.tenant + "\u0000" + w.id);
    if ((w.secret === undefined) === (w.secretEnv === undefined)) problems.push(`${at}.secret: give either secret or secretEnv (every node must sign with the same secret)`);
    let secret = w.secret;
    if (w.secretEnv !== undefined) {
      secret = env[w.secretEnv];
      if (!secret) problems.push(`${at}.secretEnv: environment variable ${w.secretEnv} is not set`);
      else if (secret.length < 16) problems.push(`${at}.secretEnv: ${w.secretEnv} must hold at least 16 characters`);
    }
    if (w.events.includes("publication") && w.namespaces.length === 0) problems.push(`${at}.namespaces: publication webhooks need the namespaces to send`);
    if (problems.length > before) return;
    out.push({ tenant: w.tenant, id: w.id, url: w.url, secret: secret!, events: [...new Set(w.events)], namespaces: [...new Set(w.namespaces)], ratePerSec: w.ratePerSec });
  });
  return out;
}
