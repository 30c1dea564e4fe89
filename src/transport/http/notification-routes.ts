import { Hono } from "hono";
import * as v from "valibot";
import { encodeNotification, NotificationId } from "../../features/notifications/notification-frames.ts";
import type { NotificationService } from "../../features/notifications/notification-service.ts";
import type { Logger } from "../../observability/logger.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { readJson } from "./errors.ts";
import { intParam, onlyQuery, parseBody, tenantOf, UserId } from "./body.ts";

const Text = (max: number) => v.pipe(v.string("must be a string"), v.minLength(1, "must not be empty"), v.maxLength(max, `at most ${max} characters`));
const PostNotification = v.strictObject({
  tenant: v.optional(v.string("must be a string")),
  users: v.pipe(v.array(UserId, "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(1000, "at most 1000 users")),
  type: v.pipe(v.string("must be a string"), v.regex(/^[A-Za-z0-9_.:\-]{1,64}$/, "must be 1–64 of [A-Za-z0-9_.:-]")),
  title: Text(200),
  body: v.optional(v.nullable(v.pipe(v.string("must be a string"), v.maxLength(4000, "at most 4000 characters")))),
  data: v.optional(v.unknown()),
  priority: v.optional(v.picklist(["low", "normal", "high"], "must be low, normal or high")),
});
const MarkRead = v.strictObject({
  tenant: v.optional(v.string("must be a string")),
  ids: v.optional(v.pipe(v.array(NotificationId, "must be an array"), v.maxLength(1000, "at most 1000 ids"))),
});

type Env = { Variables: { apiKey: number } };

/** The notifications inbox's server HTTP API (src/protocol/README.md, "Notifications"). */
export function notificationRoutes(inbox: NotificationService, logger: Logger): Hono<Env> {
  const r = new Hono<Env>();

  r.post("/notifications", async (c) => {
    const b = parseBody(PostNotification, await readJson(c));
    const tenant = tenantOf(b.tenant);
    let data: string | null = null;
    if (b.data !== undefined && b.data !== null) {
      data = JSON.stringify(b.data);
      if (data.length > 16_384) throw new SwitchboardError("MESSAGE_TOO_LARGE", "data: at most 16384 bytes of JSON");
    }
    const stored = await inbox.post(tenant, b.users, { type: b.type, title: b.title, body: b.body ?? null, data, priority: b.priority ?? "normal" });
    logger.audit("api_notification_post", { key: c.get("apiKey"), tenant, users: stored.length, type: b.type });
    return c.json({ ids: stored.map((n) => n.id) });
  });

  r.get("/users/:user/notifications", async (c) => {
    onlyQuery(c.req.query(), ["tenant", "unread", "limit", "before"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const unreadQ = c.req.query("unread");
    if (unreadQ !== undefined && unreadQ !== "true" && unreadQ !== "false") throw new SwitchboardError("VALIDATION_ERROR", "unread: must be true or false");
    const before = c.req.query("before");
    if (before !== undefined && !v.is(NotificationId, before)) throw new SwitchboardError("VALIDATION_ERROR", "before: must be a notification id");
    const limit = intParam("limit", c.req.query("limit"), 1, 100, 50)!;
    const user = c.req.param("user");
    const [list, unread] = await Promise.all([inbox.list(tenant, user, unreadQ === "true", limit, before), inbox.unread(tenant, user)]);
    logger.audit("api_notification_list", { key: c.get("apiKey"), tenant, user, count: list.length });
    return c.body('{"notifications":[' + list.map(encodeNotification).join(",") + '],"unread":' + unread + "}", 200, { "content-type": "application/json" });
  });

  r.post("/users/:user/notifications/read", async (c) => {
    const b = parseBody(MarkRead, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const user = c.req.param("user");
    const unread = await inbox.markRead(tenant, user, b.ids);
    logger.audit("api_notification_read", { key: c.get("apiKey"), tenant, user, ids: b.ids?.length ?? "all" });
    return c.json({ unread });
  });

  return r;
}
