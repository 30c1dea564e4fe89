import type { Conn } from "./ports.ts";

/**
 * Most bytes of live publications held for one subscription being set up.
 * Past it the held frames are dropped (they are in the channel's history,
 * which the recovery then reads on from: see recovery.ts), so that a slow
 * recovery on a busy channel holds bounded memory.
 */
export const HELD_MAX_BYTES = 1024 * 1024;

/** Live publications held for one connection's pending subscription. */
export interface Held {
  frames: string[];
  bytes: number;
  /** Offset of the newest frame dropped over HELD_MAX_BYTES (0: none); frames up to it are only in history. */
  dropped: number;
}

/**
 * While a subscription is being set up (the engine is asked for the current
 * offset or the missed messages, and a backlog is sent), publications for
 * that channel are held per connection; they are flushed, minus those
 * already sent from history, right before the connection joins the native
 * topic. No gap, no duplicate, and no per-subscriber work once the
 * subscription is live.
 */
export class SubscriptionBuffers {
  private readonly byKey = new Map<string, Map<Conn, Held>>();

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
    m.set(conn, { frames: [], bytes: 0, dropped: 0 });
  }

  offer(key: string, frame: string): void {
    const m = this.byKey.get(key);
    if (!m) return;
    for (const h of m.values()) {
      h.frames.push(frame);
      h.bytes += frame.length;
      if (h.bytes > HELD_MAX_BYTES) {
        h.dropped = frameOffset(frame);
        h.frames = [];
        h.bytes = 0;
      }
    }
  }

  /** The pending subscription's holding so far (undefined when the connection went away); still holding. */
  peek(conn: Conn, key: string): Held | undefined {
    return this.byKey.get(key)?.get(conn);
  }

  /** Ends holding and returns what was held (undefined when the connection went away). */
  finish(conn: Conn, key: string): Held | undefined {
    const m = this.byKey.get(key);
    const held = m?.get(conn);
    if (!m || !held) return undefined;
    m.delete(conn);
    if (m.size === 0) this.byKey.delete(key);
    return held;
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
