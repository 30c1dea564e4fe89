import type { Feature } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn, Principal } from "../../hub/ports.ts";
import { encodeOk } from "../../protocol/encode.ts";
import type { Store } from "../../store/ports.ts";
import { encodeNotification, InboxFrame, InboxReadFrame, type InboxFrame as Inbox, type InboxReadFrame as InboxRead } from "./notification-frames.ts";
import { NotificationService } from "./notification-service.ts";

/** The notifications inbox as a hub feature: `inbox` and `inbox_read` frames, unread counts pushed cluster-wide. */
export function notificationsFeature(hub: Hub, store: Store, retentionDays: number): { feature: Feature; service: NotificationService } {
  const service = new NotificationService(hub, store, retentionDays);
  const audit = (event: string, conn: Conn, p: Principal, fields: Record<string, unknown>) => {
    if (hub.deps.logger.auditing) hub.deps.logger.audit(event, { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ...fields });
  };
  const feature: Feature = {
    name: "notifications",
    frames: {
      inbox: {
        schema: InboxFrame,
        budget: "shared",
        async handle(conn, p, f: Inbox) {
          const [list, unread] = await Promise.all([service.list(p.tenant, p.sub, f.unread ?? false, f.limit ?? 50, f.before), service.unread(p.tenant, p.sub)]);
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { unread }, { notifications: "[" + list.map(encodeNotification).join(",") + "]" }));
          audit("inbox_list", conn, p, { count: list.length });
        },
      },
      inbox_read: {
        schema: InboxReadFrame,
        budget: "shared",
        async handle(conn, p, f: InboxRead) {
          const unread = await service.markRead(p.tenant, p.sub, f.ids);
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { unread }));
          audit("inbox_read", conn, p, { ids: f.ids?.length ?? "all" });
        },
      },
    },
    control(body) {
      if (body.op === "unread" && typeof body.tenant === "string" && typeof body.user === "string" && typeof body.unread === "number") {
        service.deliverCount(body.tenant, body.user, body.unread);
      }
    },
  };
  return { feature, service };
}
