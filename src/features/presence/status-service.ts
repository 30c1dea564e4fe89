import { featureControl } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn, Principal } from "../../hub/ports.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { Store, UserStatus } from "../../store/ports.ts";
import { encodeStatusEvent, type RosterEntry } from "./status-frames.ts";

/** Most users one connection may watch. */
const MAX_WATCHED = 500;
/** Tries of the last-connection transition when Redis or the record store fail; waits double from 250 ms to 4 s (about 16 s in all). */
const CLOSED_TRIES = 8;

/**
 * The hub topic of a user's status events. `~` cannot occur in a channel
 * name, so no channel (and no namespace an operator configures) collides.
 */
function statusKey(tenant: string, user: string): string {
  return tenant + "/~status:" + user;
}

/**
 * Presence status and last seen. The status a user set lives in the record
 * store while any of the user's connections stays; whether the user is
 * online comes from the cluster's connection leases; last seen is written
 * when the last connection in the cluster closes. Watchers follow a list of
 * users through a hub topic per user, fed by engine signals from every node.
 */
export class StatusService {
  private readonly watched = new WeakMap<Conn, Set<string>>();

  constructor(
    private readonly hub: Hub,
    private readonly store: Store,
  ) {}

  async set(p: Principal, status: UserStatus, text: string | null): Promise<RosterEntry> {
    await this.store.setStatus(p.tenant, p.sub, status, text, this.hub.deps.clock.now());
    const entry: RosterEntry = { user: p.sub, status, ...(text ? { text } : {}), online: status !== "offline", lastSeen: null };
    entry.lastSeen = (await this.store.lastSeen(p.tenant, [p.sub])).get(p.sub) ?? null;
    await this.signal(p.tenant, entry);
    // Every node tells the presence channels its connections of the user are on.
    await this.hub.deps.engine.control(featureControl("presence", { op: "status", tenant: p.tenant, entry: { ...entry } })).catch((err) => {
      this.hub.deps.logger.warn("status control failed", { err, tenant: p.tenant, user: p.sub });
    });
    return entry;
  }

  /**
   * On every node: the channels this node's connections of the user are
   * present on get the status event (with `ch`). A user present on one
   * channel through connections on two nodes makes that channel get it twice.
   */
  toPresenceChannels(tenant: string, entry: RosterEntry): void {
    const keys = new Set<string>();
    for (const conn of this.hub.connectionsOf(tenant, entry.user)) {
      const present = conn.data.present;
      if (present === null) continue;
      for (const key of typeof present === "string" ? [present] : present) keys.add(key);
    }
    for (const key of keys) {
      const ch = key.slice(key.indexOf("/") + 1);
      this.hub.deps.engine.signal(key, JSON.stringify({ t: "status", ch, ...entry })).catch((err) => {
        this.hub.deps.logger.warn("status signal failed", { err, tenant, user: entry.user });
      });
    }
  }

  /**
   * The status of users known to be connected (presence members): what each
   * set, `online` when nothing is set. One store read for the whole list.
   */
  async ofConnected(tenant: string, users: readonly string[]): Promise<Map<string, { status: UserStatus; text?: string }>> {
    const statuses = await this.store.statuses(tenant, [...new Set(users)]);
    const out = new Map<string, { status: UserStatus; text?: string }>();
    for (const user of users) {
      const s = statuses.get(user);
      out.set(user, s ? { status: s.status, ...(s.text ? { text: s.text } : {}) } : { status: "online" });
    }
    return out;
  }

  /** Status, online flag and last seen of each user of the tenant, in the order asked. */
  async roster(tenant: string, users: readonly string[]): Promise<RosterEntry[]> {
    const unique = [...new Set(users)];
    const engine = this.hub.deps.engine;
    const [statuses, seen, counts] = await Promise.all([
      this.store.statuses(tenant, unique),
      this.store.lastSeen(tenant, unique),
      Promise.all(unique.map((u) => engine.userConnCount(tenant + "/" + u))),
    ]);
    return unique.map((user, i) => {
      const connected = counts[i]! > 0;
      const s = statuses.get(user);
      const status: UserStatus = connected ? (s?.status ?? "online") : "offline";
      return { user, status, ...(connected && s?.text ? { text: s.text } : {}), online: connected && status !== "offline", lastSeen: seen.get(user) ?? null };
    });
  }

  watch(conn: Conn, p: Principal, users: readonly string[]): void {
    let set = this.watched.get(conn);
    if (!set) this.watched.set(conn, (set = new Set()));
    const fresh = users.filter((u) => !set.has(u));
    if (set.size + fresh.length > MAX_WATCHED) throw new SwitchboardError("LIMIT_EXCEEDED", `at most ${MAX_WATCHED} watched users per connection`);
    for (const u of fresh) {
      set.add(u);
      conn.subscribe(statusKey(p.tenant, u));
    }
  }

  unwatch(conn: Conn, p: Principal, users: readonly string[]): void {
    const set = this.watched.get(conn);
    for (const u of users) {
      if (set?.delete(u)) conn.unsubscribe(statusKey(p.tenant, u));
    }
  }

  /**
   * After a connection's lease is released: when it was the user's last in
   * the cluster, record last seen and go offline. Nothing else announces that
   * transition later, so a failure of Redis or the record store is retried
   * (a few times, with growing waits) instead of leaving watchers with the
   * user online for good; a retry finds the user connected again and stops.
   */
  async closed(conn: Conn): Promise<void> {
    const p = conn.data.principal;
    if (!p) return;
    const at = this.hub.deps.clock.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.wentOffline(p, conn.data.userKey, at);
      } catch (err) {
        if (attempt >= CLOSED_TRIES) throw err;
        this.hub.deps.logger.warn("last seen not recorded yet; retrying", { err, attempt, conn: this.hub.connId(conn) });
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (attempt - 1), 4000)).unref?.());
      }
    }
  }

  private async wentOffline(p: Principal, userKey: string, at: number): Promise<void> {
    if ((await this.hub.deps.engine.userConnCount(userKey)) > 0) return;
    await Promise.all([this.store.setLastSeen(p.tenant, p.sub, at), this.store.clearStatus(p.tenant, p.sub)]);
    await this.hub.deps.engine.signal(statusKey(p.tenant, p.sub), encodeStatusEvent({ user: p.sub, status: "offline", online: false, lastSeen: at }));
    if (this.hub.deps.logger.auditing) this.hub.deps.logger.audit("last_seen", { user: p.sub, tenant: p.tenant });
  }

  private signal(tenant: string, entry: RosterEntry): Promise<void> {
    return this.hub.deps.engine.signal(statusKey(tenant, entry.user), encodeStatusEvent(entry)).catch((err) => {
      this.hub.deps.logger.warn("status signal failed", { err, tenant, user: entry.user });
    });
  }
}
