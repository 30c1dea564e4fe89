import type { PresenceEntry } from "../engine/engine.ts";
import { FRAME_TYPES } from "../protocol/frames.ts";
import type { ChannelPolicy, ResolvedChannel } from "./channel-policy.ts";
import type { Feature, FeatureFrame } from "./features.ts";
import type { Conn } from "./ports.ts";

const CORE_FRAMES: ReadonlySet<string> = new Set(FRAME_TYPES);

/** The registered features, as tables the hub dispatches through. */
export class FeatureRegistry {
  private readonly features: Feature[] = [];
  private readonly eventSinks: Feature[] = [];
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
    if (feature.event) this.eventSinks.push(feature);
  }

  /** Runs the subscribe hooks (presence joins here). */
  async subscribed(conn: Conn, key: string, c: ResolvedChannel): Promise<void> {
    for (const f of this.features) if (f.subscribed) await f.subscribed(conn, key, c);
  }

  async unsubscribed(conn: Conn, key: string): Promise<void> {
    for (const f of this.features) if (f.unsubscribed) await f.unsubscribed(conn, key);
  }

  connected(conn: Conn): void {
    for (const f of this.features) f.connected?.(conn);
  }

  closed(conn: Conn, leaseReleased: Promise<void>, code: number): void {
    for (const f of this.features) f.closed?.(conn, leaseReleased, code);
  }

  /** Hands a feature's event to the features that forward events; undefined when none took it. */
  event(tenant: string, type: string, data: Record<string, unknown>): Promise<void> | undefined {
    let taken: Promise<void>[] | undefined;
    for (const f of this.eventSinks) {
      const p = f.event!(tenant, type, data);
      if (p) (taken ??= []).push(p);
    }
    return taken && (taken.length === 1 ? taken[0] : Promise.all(taken).then(() => {}));
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
