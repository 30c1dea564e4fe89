import * as v from "valibot";

/**
 * Declarative channel policy, per namespace (`room` in `room:42`). Default deny:
 * a namespace that is not configured does not exist, and an empty rule list
 * allows nobody. Rules (any one match allows):
 *   self          the channel's rest equals the token's `sub`
 *   tenant        any authenticated user (channels are already tenant-scoped)
 *   tenant-id     the rest equals the token's `tenant` claim
 *   claim:<name>  the rest is listed in the token's `<name>` claim (array of strings)
 *   role:<role>   the token's `roles` include `<role>`
 *   server        only the HTTP API (for `publish`; allows no client)
 *   member        the user is a member of the conversation named by the rest (chat; decided by the record store)
 *   participant   the user is in the call named by the rest (calls; decided by the call record)
 *   backend       the backend says yes: subscribe asks WEBHOOK_AUTHORIZE_URL, publish asks the namespace's `publishUrl`
 *                 or WEBHOOK_PUBLISH_URL (synchronous hooks; see the protocol's Webhooks)
 */
export const RULE = /^(self|tenant|tenant-id|server|member|participant|backend|claim:[A-Za-z0-9_]{1,64}|role:[A-Za-z0-9_.:\-]{1,64})$/;

const RULES_IN_WORDS = "self, tenant, tenant-id, server, member, participant, backend, claim:<name> or role:<role>";
const Rule = v.pipe(v.string(`each rule is a string: ${RULES_IN_WORDS}`), v.regex(RULE, `must be ${RULES_IN_WORDS}`));
const Rules = v.array(Rule, `must be a list of rules, e.g. ["claim:rooms", "role:admin"] (rules: ${RULES_IN_WORDS})`);
const HISTORY_IN_WORDS = 'must be false (no history) or {"size": 1-100000 messages, "ttlSec": 1-31536000 seconds}';
const whole = (min: number, max: number, what: string) =>
  v.pipe(v.number(`${what} must be a number from ${min} to ${max}`), v.integer(`${what} must be a whole number`), v.minValue(min, `${what} must be at least ${min}`), v.maxValue(max, `${what} must be at most ${max}`));

/** Namespace keys in the order a reader would write them; named in the unknown-key message. */
const POLICY_KEYS = ["subscribe", "publish", "history", "presence", "joinLeave", "retention", "publishUrl"];

export const NamespacePolicySchema = v.strictObject(
  {
    subscribe: Rules,
    publish: Rules,
    history: v.optional(
      v.union([v.literal(false), v.strictObject({ size: whole(1, 100_000, "size"), ttlSec: whole(1, 365 * 86400, "ttlSec") }, HISTORY_IN_WORDS)], HISTORY_IN_WORDS),
      false,
    ),
    presence: v.optional(v.boolean("must be true or false"), false),
    joinLeave: v.optional(v.boolean("must be true or false"), false),
    /** Chat: messages are kept in the record store for this many days, or `forever` (absent = not kept there). */
    retention: v.optional(v.union([v.literal("forever"), whole(1, 36_500, "retention")], 'must be "forever" or a number of days from 1 to 36500')),
    /** The `backend` publish rule asks this URL instead of WEBHOOK_PUBLISH_URL (webhooks). */
    publishUrl: v.optional(v.pipe(v.string("must be a string"), v.regex(/^https?:\/\/[^\s]+$/, "must be an http(s) URL"))),
  },
  `must be an object with "subscribe" and "publish" rule lists and optional ${POLICY_KEYS.slice(2).join(", ")}`,
);

export type NamespacePolicy = v.InferOutput<typeof NamespacePolicySchema>;

export const NamespacesSchema = v.record(
  v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.@=\-]{1,64}$/, "namespace names are 1-64 of the characters A-Z a-z 0-9 _ . @ = -")),
  NamespacePolicySchema,
  'must be an object of namespaces, e.g. {"room": {"subscribe": ["claim:rooms"], "publish": ["claim:rooms"]}}',
);

/**
 * Policy-file problems in words, each naming its key path. valibot reports a
 * missing key and an unknown key with its generic type messages, so those two
 * are rewritten here; every other message is the schema's own.
 */
export function policyProblems(issues: readonly v.BaseIssue<unknown>[]): string[] {
  const out = new Set<string>();
  for (const issue of issues) {
    const path = v.getDotPath(issue);
    const key = path?.split(".").at(-1);
    const where = `namespaces${path ? `.${path}` : ""}`;
    if (issue.kind === "schema" && issue.expected === "never" && key) {
      out.add(`${where}: unknown key "${key}"; a namespace takes ${POLICY_KEYS.join(", ")}`);
    } else if (issue.kind === "schema" && issue.input === undefined && (key === "subscribe" || key === "publish")) {
      out.add(`${where}: missing; give a list of rules (${RULES_IN_WORDS}), [] for nobody`);
    } else if (issue.kind === "schema" && issue.input === undefined && key && !POLICY_KEYS.includes(key)) {
      out.add(`${where}: missing; ${issue.message}`);
    } else out.add(`${where}: ${issue.message}`);
  }
  return [...out];
}

export type Namespaces = Record<string, NamespacePolicy>;

const DAY = 86400;
const keep = { size: 100, ttlSec: DAY };

/** The policy used when the config file names no namespaces (documented in README). */
export const DEFAULT_NAMESPACES: Namespaces = {
  user: { subscribe: ["self", "role:admin"], publish: ["server"], history: keep, presence: false, joinLeave: false },
  org: { subscribe: ["tenant-id"], publish: ["server"], history: keep, presence: false, joinLeave: false },
  room: {
    subscribe: ["claim:rooms", "role:admin"],
    publish: ["claim:rooms", "role:admin"],
    history: keep,
    presence: true,
    joinLeave: true,
  },
  student: { subscribe: ["role:nurse", "role:admin", "claim:students"], publish: ["server"], history: keep, presence: false, joinLeave: false },
  case: { subscribe: ["claim:cases", "role:admin"], publish: ["server"], history: keep, presence: false, joinLeave: false },
  call: { subscribe: ["claim:calls", "participant"], publish: ["claim:calls", "participant"], history: false, presence: false, joinLeave: false },
  chat: { subscribe: ["member"], publish: ["member"], history: keep, presence: false, joinLeave: false, retention: 365 },
};
