import type { Conn } from "./ports.ts";

/**
 * This node's authenticated connections per user (`<tenant>/<sub>`): the
 * connection itself when it is the user's only one here (the common case),
 * else an array, so that a user with one connection costs one map entry.
 */
export class UserConns {
  private readonly byUser = new Map<string, Conn | Conn[]>();

  add(userKey: string, conn: Conn): void {
    const mine = this.byUser.get(userKey);
    if (mine === undefined) this.byUser.set(userKey, conn);
    else if (Array.isArray(mine)) mine.push(conn);
    else this.byUser.set(userKey, [mine, conn]);
  }

  remove(userKey: string, conn: Conn): void {
    const mine = this.byUser.get(userKey);
    if (mine === conn) this.byUser.delete(userKey);
    else if (Array.isArray(mine)) {
      const i = mine.indexOf(conn);
      if (i >= 0) mine.splice(i, 1);
      if (mine.length === 1) this.byUser.set(userKey, mine[0]!);
    }
  }

  /** A copy: callers may close the connections while they walk it. */
  list(userKey: string): Conn[] {
    const mine = this.byUser.get(userKey);
    return mine === undefined ? [] : Array.isArray(mine) ? [...mine] : [mine];
  }

  count(userKey: string): number {
    const mine = this.byUser.get(userKey);
    return mine === undefined ? 0 : Array.isArray(mine) ? mine.length : 1;
  }
}
