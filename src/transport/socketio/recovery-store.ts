import * as v from "valibot";
import type { ChannelOptions, Engine } from "../../engine/engine.ts";

/**
 * Where a Socket.IO socket stood when it went away: for each channel, the
 * offset it had before anything was sent on it (`base`) and the deliveries
 * sent to it since, as (delivery sequence, channel offset) pairs. `complete`
 * is false when older deliveries fell out of the node's ring.
 */
const RecordSchema = v.object({
  user: v.string(),
  epoch: v.string(),
  chs: v.array(
    v.object({
      ch: v.string(),
      base: v.string(),
      sent: v.array(v.tuple([v.number(), v.string()])),
      complete: v.boolean(),
      /** Subscribed with `presence: true` (join/leave events). */
      presence: v.optional(v.boolean()),
    }),
  ),
});

export type SessionRecord = v.InferOutput<typeof RecordSchema>;

/**
 * The records live in the engine's own history (one-entry channels keyed by
 * tenant and pid, outside the client channel alphabet), so a socket can be
 * recovered on whichever node it reconnects to, also after a restart.
 */
export class RecoveryStore {
  private readonly opts: ChannelOptions;

  constructor(
    private readonly engine: () => Engine,
    ttlSec: number,
  ) {
    this.opts = { historySize: 1, historyTtlSec: Math.max(1, ttlSec) };
  }

  private key(tenant: string, pid: string): string {
    return tenant + "/~sio:" + pid;
  }

  async save(tenant: string, pid: string, record: SessionRecord): Promise<void> {
    const ch = "~sio:" + pid;
    await this.engine().publish(this.key(tenant, pid), { ch, ev: "session", data: JSON.stringify(record), ts: Date.now() }, this.opts);
  }

  /** The record of `pid`, or undefined when there is none (never saved, expired, or not valid). */
  async load(tenant: string, pid: string): Promise<SessionRecord | undefined> {
    if (!/^[A-Za-z0-9_-]{16,64}$/.test(pid)) return undefined;
    const res = await this.engine().history(this.key(tenant, pid), { limit: 1 }, this.opts);
    const frame = res.frames[res.frames.length - 1];
    if (frame === undefined) return undefined;
    const r = v.safeParse(RecordSchema, (JSON.parse(frame) as { data: unknown }).data);
    return r.success ? r.output : undefined;
  }
}
