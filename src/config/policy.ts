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
 */
export const RULE = /^(self|tenant|tenant-id|server|member|claim:[A-Za-z0-9_]{1,64}|role:[A-Za-z0-9_.:\-]{1,64})$/;

const Rule = v.pipe(v.string(), v.regex(RULE, "must be self, tenant, tenant-id, server, member, claim:<name> or role:<role>"));

export const NamespacePolicySchema = v.strictObject({
  subscribe: v.array(Rule),
  publish: v.array(Rule),
  history: v.optional(
    v.union([
      v.literal(false),
      v.strictObject({
        size: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(100_000)),
        ttlSec: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(365 * 86400)),
      }),
    ]),
    false,
  ),
  presence: v.optional(v.boolean(), false),
  joinLeave: v.optional(v.boolean(), false),
  /** Chat: messages are kept in the record store for this many days, or `forever` (absent = not kept there). */
  retention: v.optional(v.union([v.literal("forever"), v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(36_500))], 'must be "forever" or a number of days')),
});

export type NamespacePolicy = v.InferOutput<typeof NamespacePolicySchema>;

export const NamespacesSchema = v.record(
  v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.@=\-]{1,64}$/, "namespace names are 1–64 of [A-Za-z0-9_.@=-]")),
  NamespacePolicySchema,
);

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
  call: { subscribe: ["claim:calls"], publish: ["claim:calls"], history: false, presence: false, joinLeave: false },
  chat: { subscribe: ["member"], publish: ["member"], history: keep, presence: false, joinLeave: false, retention: 365 },
};
