import type { Engine } from "../../engine/engine.ts";
import type { Logger } from "../../observability/logger.ts";
import { encodePresenceEvent } from "../../protocol/encode.ts";
import type { ResolvedChannel } from "../../hub/channel-policy.ts";
import type { Conn } from "../../hub/ports.ts";

/**
 * Presence on namespaces that enable it: every subscriber is a member, and
 * with join/leave on, joins and leaves go out as frames on the channel's
 * presence topic (only connections that subscribed with `presence: true` get them).
 */
export class PresenceTracker {
  constructor(
    /** The engine in use (read at each call: start-up may fall back from Redis to the embedded one). */
    private readonly engineOf: () => Engine,
    readonly connId: (conn: Conn) => string,
    private readonly logger: Logger,
    /** Whether the namespace of a channel key has join/leave on. */
    private readonly joinLeaveOf: (key: string) => boolean,
    /** The `join` frame of a user on a channel key (with what the feature adds, e.g. status). */
    private readonly joinFrame: (key: string, ch: string, user: string, conn: string) => Promise<string> = async (_key, ch, user, conn) => encodePresenceEvent("join", ch, user, conn),
    /**
     * Whether a join/leave of a channel key can reach anyone: false only when
     * the engine is this node alone and nobody here listens to the key's
     * presence topic; the frame (and the status read of a join) is then skipped.
     */
    private readonly heard: (key: string) => boolean = () => true,
  ) {}

  private get engine(): Engine {
    return this.engineOf();
  }

  async join(conn: Conn, key: string, c: ResolvedChannel): Promise<void> {
    if (!c.policy.presence) return;
    const d = conn.data;
    if (d.closing) return;
    const user = d.principal!.sub;
    const id = this.connId(conn);
    await this.engine.presenceAdd(key, { user, conn: id });
    // The socket closed (or unsubscribed) while the add was in flight: its
    // leave did not know this key yet, so nothing else would ever remove it.
    if (d.closing || !conn.isSubscribed(key)) return this.removeQuietly(key, id);
    d.present = d.present === null ? key : typeof d.present === "string" ? [d.present, key] : (d.present.push(key), d.present);
    if (c.policy.joinLeave && this.heard(key)) await this.engine.signal(key, await this.joinFrame(key, c.ch, user, id));
  }

  /** Removes the connection from `key`; emits `leave` once, when the engine says it was present. */
  async leave(conn: Conn, key: string): Promise<void> {
    const d = conn.data;
    const present = d.present;
    if (present === null) return;
    if (typeof present === "string") {
      if (present !== key) return;
      d.present = null;
    } else {
      const i = present.indexOf(key);
      if (i < 0) return;
      present.splice(i, 1);
      if (present.length === 0) d.present = null;
    }
    await this.removeAndSignal(conn, key);
  }

  /** On close: leaves every channel the connection was present on. */
  async leaveAll(conn: Conn): Promise<void> {
    const present = conn.data.present;
    if (!present) return;
    conn.data.present = null;
    if (typeof present === "string") await this.removeAndSignal(conn, present);
    else await Promise.all(present.map((key) => this.removeAndSignal(conn, key)));
  }

  private async removeAndSignal(conn: Conn, key: string): Promise<void> {
    const id = this.connId(conn);
    try {
      const removed = await this.engine.presenceRemove(key, id);
      if (removed && this.joinLeaveOf(key) && this.heard(key)) {
        const ch = key.slice(key.indexOf("/") + 1);
        await this.engine.signal(key, encodePresenceEvent("leave", ch, conn.data.principal!.sub, id));
      }
    } catch (err) {
      // The engine's TTL removes the member and emits leave later; nothing to undo here.
      this.logger.warn("presence removal failed", { err, conn: id });
    }
  }

  /** Removes a member whose join was never announced (so no leave either). */
  private async removeQuietly(key: string, id: string): Promise<void> {
    try {
      await this.engine.presenceRemove(key, id);
    } catch (err) {
      this.logger.warn("presence removal failed", { err, conn: id });
    }
  }
}
