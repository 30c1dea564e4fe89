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

/** Templates a `report` action renders: the POST templates (with `input`) and the store-backed ones. */
export const REPORT_JOB_TEMPLATES = ["student-health-summary", "medication-log", "immunization-compliance", "incident", "custom", "channel-history", "conversation-transcript"] as const;

const ReportAction = v.pipe(
  v.strictObject({
    template: v.picklist(REPORT_JOB_TEMPLATES, `must be one of ${REPORT_JOB_TEMPLATES.join(", ")}`),
    /** The template's input (checked against its schema when the job is created). */
    input: v.record(v.string(), v.unknown(), "must be an object"),
    /** POST the PDF here, signed like every webhook call. */
    webhook: v.optional(v.strictObject({ url: WebhookAction.entries.url })),
    /** An inbox notification with a download link that expires. */
    notify: v.optional(
      v.strictObject({
        users: NotifyAction.entries.users,
        type: v.optional(NotifyAction.entries.type),
        title: v.optional(Text(200)),
        body: NotifyAction.entries.body,
        priority: NotifyAction.entries.priority,
        /** Lifetime of the download link (REPORT_LINK_TTL_SEC by default). */
        linkTtlSec: v.optional(v.pipe(v.number("must be a number"), v.safeInteger("must be an integer"), v.minValue(1, "must be ≥ 1"), v.maxValue(90 * 86_400, "at most 90 days"))),
      }),
    ),
  }),
  v.check((r) => r.webhook !== undefined || r.notify !== undefined, "needs webhook or notify (where the report goes)"),
);

export type ReportJobAction = v.InferOutput<typeof ReportAction>;

/** What a job does when it runs; `publish` and `notify` may be combined (the publication goes out first). */
export const JobActionSchema = v.pipe(
  v.strictObject({
    publish: v.optional(PublishAction),
    notify: v.optional(NotifyAction),
    webhook: v.optional(WebhookAction),
    builtin: v.optional(v.pipe(v.string("must be a string"), v.regex(/^[a-z0-9-]{1,64}$/, "must be a built-in job name"))),
    report: v.optional(ReportAction),
  }),
  v.check((a) => a.publish !== undefined || a.notify !== undefined || a.webhook !== undefined || a.builtin !== undefined || a.report !== undefined, "needs publish, notify, webhook, report or builtin"),
  v.check((a) => (a.webhook === undefined && a.builtin === undefined && a.report === undefined) || Object.values(a).filter((x) => x !== undefined).length === 1, "webhook, report and builtin cannot be combined with another action"),
);

export type JobAction = v.InferOutput<typeof JobActionSchema>;

/** The concurrency class of an action: each kind has its own limit per node (and, optionally, per cluster). */
export function actionKind(a: JobAction): string {
  if (a.builtin !== undefined) return "builtin";
  if (a.report !== undefined) return "report";
  if (a.webhook !== undefined) return "webhook";
  if (a.notify !== undefined) return "notify";
  return "publish";
}
