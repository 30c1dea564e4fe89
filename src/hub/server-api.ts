import type { HistoryResult, PresenceEntry } from "../engine/engine.ts";
import { HISTORY_ANSWER_MAX_BYTES } from "../engine/history-budget.ts";
import { CHANNEL } from "../protocol/frames.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import { channelKey, type ResolvedChannel } from "./channel-policy.ts";
import type { Hub } from "./hub.ts";

const TENANT = /^[A-Za-z0-9_.:@=\-]{0,128}$/;

/**
 * What the server HTTP API may do (PROTOCOL.md §6). Callers are trusted
 * backends (API keys): publish rules do not apply, namespaces still must exist.
 */
export class ServerApi {
  constructor(private readonly hub: Hub) {}

  private channel(tenant: string | undefined, ch: string): { c: ResolvedChannel; key: string; tenant: string } {
    const t = tenant ?? "";
    if (!TENANT.test(t)) throw new SwitchboardError("VALIDATION_ERROR", "tenant: must be up to 128 of [A-Za-z0-9_.:@=-]");
    if (Buffer.byteLength(ch) > 255 || !CHANNEL.test(ch)) throw new SwitchboardError("VALIDATION_ERROR", "ch: must be namespace:rest of [A-Za-z0-9_.:@=-], at most 255 bytes");
    const c = this.hub.deps.policy.resolve(ch);
    return { c, key: channelKey(t, ch), tenant: t };
  }

  async publish(tenant: string | undefined, ch: string, ev: string, data: string): Promise<string> {
    const hub = this.hub;
    hub.assertAccepting();
    const { c, key } = this.channel(tenant, ch);
    const t0 = performance.now();
    hub.inflight++;
    try {
      const pub = { ch, ev, data, ts: hub.deps.clock.now() };
      const off = c.takeover ? await c.takeover.publish(key, c, pub) : await hub.deps.engine.publish(key, pub, c.options);
      hub.deps.metrics.publishLatency.observe((performance.now() - t0) / 1000);
      hub.deps.metrics.publishesApi.value++;
      return off;
    } finally {
      hub.inflight--;
    }
  }

  /** Publishes to every channel (all names are checked first); fails if any publish fails, in which case others may have been published. */
  async broadcast(tenant: string | undefined, chs: string[], ev: string, data: string): Promise<string[]> {
    for (const ch of chs) this.channel(tenant, ch);
    const offs = await Promise.all(chs.map((ch) => this.publish(tenant, ch, ev, data)));
    return offs;
  }

  async presence(tenant: string | undefined, ch: string): Promise<PresenceEntry[]> {
    const { c, key } = this.channel(tenant, ch);
    if (!c.policy.presence) throw new SwitchboardError("BAD_REQUEST", `presence is off for namespace ${c.ns}`);
    return this.hub.features.presenceMembers(key, await this.hub.deps.engine.presence(key));
  }

  /** At most `maxBytes` of messages (the rest is paged with `since`; the result then says `more`). */
  async history(tenant: string | undefined, ch: string, since: string | undefined, limit: number, maxBytes = HISTORY_ANSWER_MAX_BYTES): Promise<HistoryResult> {
    const { c, key } = this.channel(tenant, ch);
    if (c.options.historySize <= 0) throw new SwitchboardError("BAD_REQUEST", `history is off for namespace ${c.ns}`);
    return this.hub.deps.engine.history(key, { since, limit, maxBytes }, c.options);
  }

  /** Closes the user's connections on every node; answers how many there were. */
  async disconnect(tenant: string | undefined, user: string, reason: string): Promise<number> {
    const t = tenant ?? "";
    if (!TENANT.test(t)) throw new SwitchboardError("VALIDATION_ERROR", "tenant: must be up to 128 of [A-Za-z0-9_.:@=-]");
    const engine = this.hub.deps.engine;
    const count = Math.max(await engine.userConnCount(t + "/" + user), this.hub.localConnections(t, user));
    await engine.control({ type: "disconnect", tenant: t, user, reason });
    return count;
  }
}
