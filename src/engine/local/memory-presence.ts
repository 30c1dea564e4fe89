import type { PresenceEntry, PresenceMember } from "../engine.ts";

/** A member's connection id, or a number standing for it (see memberKey). */
type MemberKey = string | number;

/** Most distinct connection-id prefixes kept as numbers (a process sees its own, plus node-stats ids). */
const PREFIXES = 16;

/**
 * Presence and per-user connection counts of a single node, in memory. A
 * member is stored as its user id alone unless it carries `info`, and a user's
 * connections as a count: this runs once per connection, so it stays small.
 */
export class MemoryPresence {
  private readonly channels = new Map<string, Map<MemberKey, string | PresenceMember>>();
  private readonly userConns = new Map<string, number>();
  /** Prefixes of connection ids (`<node>.<start>-`), numbered: see memberKey. */
  private readonly prefixes = new Map<string, number>();

  add(key: string, member: PresenceMember): void {
    let members = this.channels.get(key);
    if (!members) this.channels.set(key, (members = new Map()));
    members.set(this.memberKey(member.conn), member.info === undefined ? member.user : member);
  }

  remove(key: string, conn: string): boolean {
    const members = this.channels.get(key);
    if (!members?.delete(this.memberKey(conn))) return false;
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

  /**
   * A member's key: a connection id that ends in a number after a known
   * prefix (the hub's `<node>.<start>-<n>`) is kept as that number and the
   * prefix's index, so a member costs no string of its own (a string per
   * member was a tenth of an idle connection's memory). Any other id is kept
   * as it is; numbers and strings never collide as Map keys.
   */
  private memberKey(conn: string): MemberKey {
    let i = conn.length;
    for (let c = conn.charCodeAt(i - 1); i > 0 && c >= 48 && c <= 57; c = conn.charCodeAt(--i - 1));
    const digits = conn.length - i;
    // No number, a leading zero (two ids would share it), or too long for an exact double.
    if (digits === 0 || digits > 12 || i === 0 || (digits > 1 && conn.charCodeAt(i) === 48)) return conn;
    const prefix = conn.slice(0, i);
    let p = this.prefixes.get(prefix);
    if (p === undefined) {
      if (this.prefixes.size >= PREFIXES) return conn;
      this.prefixes.set(prefix, (p = this.prefixes.size));
    }
    return Number(conn.slice(i)) * PREFIXES + p;
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
