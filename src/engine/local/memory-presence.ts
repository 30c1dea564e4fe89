import type { PresenceEntry, PresenceMember } from "../engine.ts";

/** Presence and per-user connection counts of a single node, in memory. */
export class MemoryPresence {
  private readonly channels = new Map<string, Map<string, PresenceMember>>();
  private readonly userConns = new Map<string, Set<string>>();

  add(key: string, member: PresenceMember): void {
    let members = this.channels.get(key);
    if (!members) this.channels.set(key, (members = new Map()));
    members.set(member.conn, member);
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
      const e = byUser.get(m.user);
      if (e) e.conns++;
      else byUser.set(m.user, m.info === undefined ? { user: m.user, conns: 1 } : { user: m.user, conns: 1, info: m.info });
    }
    return [...byUser.values()];
  }

  acquire(userKey: string, conn: string, max: number): boolean {
    let conns = this.userConns.get(userKey);
    if (conns?.has(conn)) return true;
    if (max > 0 && (conns?.size ?? 0) >= max) return false;
    if (!conns) this.userConns.set(userKey, (conns = new Set()));
    conns.add(conn);
    return true;
  }

  release(userKey: string, conn: string): void {
    const conns = this.userConns.get(userKey);
    if (conns?.delete(conn) && conns.size === 0) this.userConns.delete(userKey);
  }

  count(userKey: string): number {
    return this.userConns.get(userKey)?.size ?? 0;
  }
}
