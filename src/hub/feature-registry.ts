import type { PresenceEntry } from "../engine/engine.ts";
import { FRAME_TYPES } from "../protocol/frames.ts";
import type { ChannelPolicy, ResolvedChannel } from "./channel-policy.ts";
import type { Feature, FeatureFrame } from "./features.ts";
import type { Conn } from "./ports.ts";

const CORE_FRAMES: ReadonlySet<string> = new Set(FRAME_TYPES);

/** The registered features, as tables the hub dispatches through. */
export class FeatureRegistry {
  private readonly features: Feature[] = [];
  /** Client frames of the features by `t`. */
  readonly frames = new Map<string, FeatureFrame>();

  constructor(private readonly policy: ChannelPolicy) {}

  /** Adds a feature's frames, record rules and channel takeover (before the node serves traffic). */
  register(feature: Feature): void {
    for (const [t, frame] of Object.entries(feature.frames ?? {})) {
      if (this.frames.has(t) || CORE_FRAMES.has(t)) throw new Error(`frame type ${t} of feature ${feature.name} is already taken`);
      this.frames.set(t, frame);
    }
    for (const [name, rule] of Object.entries(feature.rules ?? {})) this.policy.registerRule(name, rule);
    if (feature.channels) this.policy.registerTakeover(feature.channels);
    this.features.push(feature);
  }

  /** Runs the subscribe hooks (presence joins here). */
  async subscribed(conn: Conn, key: string, c: ResolvedChannel): Promise<void> {
    for (const f of this.features) if (f.subscribed) await f.subscribed(conn, key, c);
  }

  async unsubscribed(conn: Conn, key: string): Promise<void> {
    for (const f of this.features) if (f.unsubscribed) await f.unsubscribed(conn, key);
  }

  closed(conn: Conn, leaseReleased: Promise<void>): void {
    for (const f of this.features) f.closed?.(conn, leaseReleased);
  }

  /** The members of a `presence` answer as the features describe them (status…). */
  async presenceMembers(key: string, members: PresenceEntry[]): Promise<PresenceEntry[]> {
    for (const f of this.features) if (f.presenceMembers && members.length > 0) members = await f.presenceMembers(key, members);
    return members;
  }

  control(feature: string, body: Record<string, unknown>): void {
    for (const f of this.features) if (f.name === feature) f.control?.(body);
  }
}
