import * as v from "valibot";

const Text = (max: number) => v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(max, `at most ${max} characters`));
const Channel = v.pipe(v.string("must be a string"), v.maxLength(255, "at most 255 bytes"));

const PublishAction = v.strictObject({
  /** One channel or several (each gets the publication). */
  ch: v.union([Channel, v.pipe(v.array(Channel, "must be a string or an array"), v.minLength(1, "must not be empty"), v.maxLength(100, "at most 100 channels"))], "must be a channel or an array of channels"),
  ev: v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters")),
  data: v.optional(v.unknown()),
});

const NotifyAction = v.strictObject({
  users: v.pipe(v.array(v.pipe(v.string("must be a string"), v.regex(/^[^\u0000-\u001f]{1,128}$/, "must be 1–128 printable characters")), "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(1000, "at most 1000 users")),
  type: v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_.:\-]{1,64}$/, "must be 1–64 of [A-Za-z0-9_.:-]")),
  title: Text(200),
  body: v.optional(v.nullable(v.pipe(v.string("must be a string"), v.maxLength(4000, "at most 4000 characters")))),
  data: v.optional(v.unknown()),
  priority: v.optional(v.picklist(["low", "normal", "high"], "must be low, normal or high")),
});

const WebhookAction = v.strictObject({
  url: v.pipe(v.string("must be a string"), v.url("must be a URL"), v.regex(/^https?:\/\//, "must be an http(s) URL")),
  body: v.optional(v.unknown()),
});

/** What a job does when it runs; `publish` and `notify` may be combined (the publication goes out first). */
export const JobActionSchema = v.pipe(
  v.strictObject({
    publish: v.optional(PublishAction),
    notify: v.optional(NotifyAction),
    webhook: v.optional(WebhookAction),
    builtin: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[a-z0-9-]{1,64}$/, "must be a built-in job name"))),
  }),
  v.check((a) => a.publish !== undefined || a.notify !== undefined || a.webhook !== undefined || a.builtin !== undefined, "needs publish, notify, webhook or builtin"),
  v.check((a) => (a.webhook === undefined && a.builtin === undefined) || Object.values(a).filter((x) => x !== undefined).length === 1, "webhook and builtin cannot be combined with another action"),
);

export type JobAction = v.InferOutput<typeof JobActionSchema>;

/** The concurrency class of an action: each kind has its own limit per node. */
export function actionKind(a: JobAction): string {
  if (a.builtin !== undefined) return "builtin";
  if (a.webhook !== undefined) return "webhook";
  if (a.notify !== undefined) return "notify";
  return "publish";
}
