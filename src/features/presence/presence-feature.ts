import type { Feature } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import { presenceTopic } from "../../hub/channel-policy.ts";
import type { Conn, Principal } from "../../hub/ports.ts";
import { encodeOk, encodePresenceEvent } from "../../protocol/encode.ts";
import type { Store } from "../../store/ports.ts";
import { PresenceTracker } from "./presence-tracker.ts";
import { RosterFrame, StatusFrame, UnwatchFrame, WatchFrame, type RosterEntry, type StatusFrame as SetStatus, type UsersFrame } from "./status-frames.ts";
import { StatusService } from "./status-service.ts";

/**
 * Presence as a hub feature: channel members and join/leave (on the
 * subscribe, unsubscribe and close hooks), the status a user sets, last seen,
 * and watching the status of a list of users.
 */
export function presenceFeature(hub: Hub, store: Store): { feature: Feature; status: StatusService } {
  const policy = hub.deps.policy;
  const status = new StatusService(hub, store);
  /** Members' statuses; while the record store is down, presence still works, without them. */
  const statusesOrNone = (key: string, users: string[]) =>
    status.ofConnected(tenantOf(key), users).catch((err) => {
      hub.deps.logger.warn("presence without status: record store unavailable", { err });
      return undefined;
    });
  const tracker = new PresenceTracker(
    () => hub.deps.engine,
    (conn) => hub.connId(conn),
    hub.deps.logger,
    (key) => {
      const ch = key.slice(key.indexOf("/") + 1);
      return Boolean(policy.namespaces[ch.slice(0, ch.indexOf(":"))]?.joinLeave);
    },
    async (key, ch, user, conn) => {
      const frame = encodePresenceEvent("join", ch, user, conn);
      const of = await statusesOrNone(key, [user]);
      return of ? withStatus(frame, of.get(user)!) : frame;
    },
    // On the embedded engine a join or leave goes no further than this node's listeners of the presence topic.
    (key) => hub.deps.engine.kind !== "local" || hub.hasSubscribers(presenceTopic(key)),
  );
  const audit = (event: string, conn: Conn, p: Principal, fields: Record<string, unknown>) => {
    if (hub.deps.logger.auditing) hub.deps.logger.audit(event, { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ...fields });
  };

  const feature: Feature = {
    name: "presence",
    control(body) {
      const e = body.entry as RosterEntry | undefined;
      if (body.op === "status" && typeof body.tenant === "string" && e && typeof e.user === "string") status.toPresenceChannels(body.tenant, e);
    },
    subscribed: (conn, key, c) => tracker.join(conn, key, c),
    async presenceMembers(key, members) {
      const of = await statusesOrNone(key, members.map((m) => m.user));
      return of ? members.map((m) => ({ ...m, ...of.get(m.user) })) : members;
    },
    unsubscribed: (conn, key) => tracker.leave(conn, key),
    closed(conn, released) {
      void tracker.leaveAll(conn);
      released.then(() => status.closed(conn)).catch((err) => hub.deps.logger.warn("last seen not recorded", { err, conn: hub.connId(conn) }));
    },
    frames: {
      status: {
        schema: StatusFrame,
        budget: "shared",
        async handle(conn, p, f: SetStatus) {
          const e = await status.set(p, f.status, f.text ?? null);
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { status: e.status, ...(e.text ? { text: e.text } : {}) }));
          audit("status", conn, p, { status: f.status });
        },
      },
      watch: {
        schema: WatchFrame,
        budget: "shared",
        async handle(conn, p, f: UsersFrame) {
          status.watch(conn, p, f.users);
          const users = await status.roster(p.tenant, f.users);
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { users }));
          audit("status_watch", conn, p, { users: f.users.length });
        },
      },
      unwatch: {
        schema: UnwatchFrame,
        budget: "shared",
        handle(conn, p, f: UsersFrame) {
          status.unwatch(conn, p, f.users);
          hub.send(conn, encodeOk(f.id));
          audit("status_unwatch", conn, p, { users: f.users.length });
        },
      },
      roster: {
        schema: RosterFrame,
        budget: "shared",
        async handle(conn, p, f: UsersFrame) {
          const users = await status.roster(p.tenant, f.users);
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { users }));
          audit("status_roster", conn, p, { users: f.users.length });
        },
      },
    },
  };
  return { feature, status };
}

function tenantOf(key: string): string {
  return key.slice(0, key.indexOf("/"));
}

/** A join frame with the member's status (and text) added before its closing brace. */
function withStatus(frame: string, s: { status: string; text?: string }): string {
  return frame.slice(0, -1) + ',"status":' + JSON.stringify(s.status) + (s.text ? ',"text":' + JSON.stringify(s.text) : "") + "}";
}
