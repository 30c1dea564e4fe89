import type { Logger } from "../../observability/logger.ts";
import type { PresenceEntry, PresenceMember } from "../engine.ts";
import type { RedisClient } from "./connection.ts";
import type { RedisKeys } from "./keys.ts";
import { LuaScript, PRESENCE_HEARTBEAT, PRESENCE_SWEEP, USER_HEARTBEAT } from "./scripts.ts";

const heartbeatScript = new LuaScript("presence-heartbeat", PRESENCE_HEARTBEAT);
const sweepScript = new LuaScript("presence-sweep", PRESENCE_SWEEP);
const userHeartbeatScript = new LuaScript("user-heartbeat", USER_HEARTBEAT);
const BATCH = 200;

export interface PresenceLeasesOptions {
  keys: RedisKeys;
  /** A member or connection lease lasts two heartbeat periods: one missed heartbeat is tolerated. */
  leaseMs: number;
  keyTtlSec: number;
  logger: Logger;
  /** A member this node holds was swept (this node stalled) and is re-added: announce it again. */
  onRejoin(key: string, member: PresenceMember): void;
  /** A member of some node expired and this node's sweep removed it: announce its leave (once, cluster-wide). */
  onExpired(key: string, member: PresenceMember): void;
}

/**
 * The presence members and user-connection leases this node holds, kept
 * alive in Redis by heartbeats. Members of a dead node stop being refreshed;
 * every node sweeps expired leases, and the atomic removal decides which node
 * emits the `leave`.
 */
export class PresenceLeases {
  /** key → conn → member JSON, exactly as stored in Redis. */
  private readonly members = new Map<string, Map<string, string>>();
  /** userKey → conns. */
  private readonly userConns = new Map<string, Set<string>>();
  /** Heartbeats sent and not yet answered (they overlap when Redis is slower than the period). */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly opts: PresenceLeasesOptions) {}

  static memberJson(member: PresenceMember): string {
    return JSON.stringify(member.info === undefined ? { user: member.user } : { user: member.user, info: member.info });
  }

  /** Stored member JSONs (see memberJson) grouped by user. */
  static entries(jsons: string[]): PresenceEntry[] {
    const byUser = new Map<string, PresenceEntry>();
    for (const j of jsons) {
      const m = JSON.parse(j) as { user: string; info?: unknown };
      const e = byUser.get(m.user);
      if (e) e.conns++;
      else byUser.set(m.user, m.info === undefined ? { user: m.user, conns: 1 } : { user: m.user, conns: 1, info: m.info });
    }
    return [...byUser.values()];
  }

  holdMember(key: string, conn: string, json: string): void {
    let m = this.members.get(key);
    if (!m) this.members.set(key, (m = new Map()));
    m.set(conn, json);
  }

  dropMember(key: string, conn: string): void {
    const m = this.members.get(key);
    if (m?.delete(conn) && m.size === 0) this.members.delete(key);
  }

  holdUserConn(userKey: string, conn: string): void {
    let s = this.userConns.get(userKey);
    if (!s) this.userConns.set(userKey, (s = new Set()));
    s.add(conn);
  }

  dropUserConn(userKey: string, conn: string): void {
    const s = this.userConns.get(userKey);
    if (s?.delete(conn) && s.size === 0) this.userConns.delete(userKey);
  }

  get size(): { members: number; userConns: number } {
    let members = 0;
    for (const m of this.members.values()) members += m.size;
    let userConns = 0;
    for (const s of this.userConns.values()) userConns += s.size;
    return { members, userConns };
  }

  /**
   * Resolves once every heartbeat already sent has been answered (or failed).
   * A removal waits for this after dropping its lease here: a heartbeat that
   * took its list before the drop re-adds the lease when Redis runs it after
   * the removal, and it can: EVALSHA answered NOSCRIPT (Redis restarted,
   * failed over or flushed its scripts) is sent again as EVAL behind commands
   * issued meanwhile, and a cluster redirection resends it too. Heartbeats
   * started after the drop no longer carry the lease.
   */
  async settled(): Promise<void> {
    if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** Refreshes every lease this node holds; one script call per shard and batch. */
  heartbeat(client: RedisClient): Promise<void> {
    const run = this.refresh(client);
    this.inFlight.add(run);
    const done = () => void this.inFlight.delete(run);
    run.then(done, done);
    return run;
  }

  private async refresh(client: RedisClient): Promise<void> {
    const { keys, leaseMs, keyTtlSec } = this.opts;
    const byShard = new Map<number, { key: string; conn: string; json: string }[]>();
    for (const [key, conns] of this.members) {
      const shard = keys.shardOf(key);
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      for (const [conn, json] of conns) list.push({ key, conn, json });
    }
    const calls: Promise<unknown>[] = [];
    for (const [shard, list] of byShard) {
      for (let i = 0; i < list.length; i += BATCH) {
        const batch = list.slice(i, i + BATCH);
        const ks = [keys.presenceLeases(shard), ...batch.map((m) => keys.presence(m.key))];
        const args: (string | number)[] = [leaseMs, keyTtlSec];
        for (const m of batch) args.push(keys.leaseMember(m.key, m.conn), m.conn, m.json);
        calls.push(
          heartbeatScript.run(client, ks, args).then((readded) => {
            for (const idx of readded as number[]) {
              const m = batch[idx - 1]!;
              this.opts.logger.warn("presence member had expired and was re-added", { conn: m.conn });
              this.opts.onRejoin(m.key, { ...(JSON.parse(m.json) as Omit<PresenceMember, "conn">), conn: m.conn });
            }
          }),
        );
      }
    }
    const userByShard = new Map<number, [string, string][]>();
    for (const [userKey, conns] of this.userConns) {
      const shard = keys.shardOf(userKey);
      let list = userByShard.get(shard);
      if (!list) userByShard.set(shard, (list = []));
      for (const conn of conns) list.push([keys.userConns(userKey), conn]);
    }
    for (const list of userByShard.values()) {
      for (let i = 0; i < list.length; i += BATCH) {
        const batch = list.slice(i, i + BATCH);
        calls.push(userHeartbeatScript.run(client, batch.map((b) => b[0]), [leaseMs, keyTtlSec, ...batch.map((b) => b[1])]));
      }
    }
    await Promise.all(calls);
  }

  /** Removes expired members of every shard and reports each removal once. */
  async sweep(client: RedisClient): Promise<number> {
    const { keys } = this.opts;
    const results = await Promise.all(
      Array.from({ length: keys.shards }, (_, shard) =>
        sweepScript.run(client, [keys.presenceLeases(shard)], [keys.presencePrefix(shard), 500]),
      ),
    );
    let removed = 0;
    for (const r of results as string[][]) {
      for (let i = 0; i + 2 < r.length; i += 3) {
        removed++;
        const member = JSON.parse(r[i + 2]!) as Omit<PresenceMember, "conn">;
        this.opts.onExpired(r[i]!, { ...member, conn: r[i + 1]! });
      }
    }
    return removed;
  }
}
