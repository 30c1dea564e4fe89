import type { PresenceEntry, PresenceMember } from "../engine.ts";

/**
 * Presence and per-user connection counts of a single node, in memory. A
 * member is stored as its user id alone unless it carries `info`, and a user's
 * connections as a count: this runs once per connection, so it stays small.
 */
export class MemoryPresence {
  private readonly channels = new Map<string, Map<string, string | PresenceMember>>();
  private readonly userConns = new Map<string, number>();

  add(key: string, member: PresenceMember): void {
    let members = this.channels.get(key);
    if (!members) this.channels.set(key, (members = new Map()));
    members.set(member.conn, member.info === undefined ? member.user : member);
  }

  remove(key: string, conn: string): boolean {
    const members = this.channels.get(key);
    if (!members?.delete(conn)) return false;
    if (members.size === 0) this.channels.delete(key);
    return true;
  }

  list(key: string): PresenceEntry[] {
    const members = this.channels.get(key);
    if (!members) return [];
    const byUser = new Map<string, PresenceEntry>();
    for (const m of members.values()) {
      const user = typeof m === "string" ? m : m.user;
      const e = byUser.get(user);
      if (e) e.conns++;
      else byUser.set(user, typeof m === "string" ? { user, conns: 1 } : { user, conns: 1, info: m.info });
    }
    return [...byUser.values()];
  }

  /** Counts one more connection of `userKey` unless `max` (> 0) is reached. */
  acquire(userKey: string, max: number): boolean {
    const n = this.userConns.get(userKey) ?? 0;
    if (max > 0 && n >= max) return false;
    this.userConns.set(userKey, n + 1);
    return true;
  }

  release(userKey: string): void {
    const n = this.userConns.get(userKey);
    if (n === undefined) return;
    if (n <= 1) this.userConns.delete(userKey);
    else this.userConns.set(userKey, n - 1);
  }

  count(userKey: string): number {
    return this.userConns.get(userKey) ?? 0;
  }
}
