import type { Conn } from "./ports.ts";

/**
 * While a subscription is being set up (the engine is asked for the current
 * offset or the missed messages), publications for that channel are held per
 * connection; they are flushed, minus those already sent from history, right
 * before the connection joins the native topic. No gap, no duplicate, and no
 * per-subscriber work once the subscription is live.
 */
export class SubscriptionBuffers {
  private readonly byKey = new Map<string, Map<Conn, string[]>>();

  get size(): number {
    return this.byKey.size;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  isPending(conn: Conn, key: string): boolean {
    return this.byKey.get(key)?.has(conn) ?? false;
  }

  start(conn: Conn, key: string): void {
    let m = this.byKey.get(key);
    if (!m) this.byKey.set(key, (m = new Map()));
    m.set(conn, []);
  }

  offer(key: string, frame: string): void {
    const m = this.byKey.get(key);
    if (m) for (const buf of m.values()) buf.push(frame);
  }

  /** Ends buffering and returns the held frames (undefined when the connection went away). */
  finish(conn: Conn, key: string): string[] | undefined {
    const m = this.byKey.get(key);
    const buf = m?.get(conn);
    if (!m || !buf) return undefined;
    m.delete(conn);
    if (m.size === 0) this.byKey.delete(key);
    return buf;
  }

  dropConn(conn: Conn): void {
    for (const [key, m] of this.byKey) {
      if (m.delete(conn) && m.size === 0) this.byKey.delete(key);
    }
  }
}

/** Offset of an encoded `msg` frame (`"off":"N"` follows the channel name), or -1. */
export function frameOffset(frame: string): number {
  const i = frame.indexOf('"off":"');
  if (i < 0) return -1;
  const j = frame.indexOf('"', i + 7);
  return Number(frame.slice(i + 7, j));
}
