import { channelKey } from "../../hub/channel-policy.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn } from "../../hub/ports.ts";
import type { CallRecord } from "../../store/ports.ts";

/** Engine key of a device's lease; only this feature uses the `call-device` prefix (no client can subscribe to it: no such namespace). */
const deviceKey = (tenant: string, conn: string) => channelKey(tenant, "call-device:" + conn);

/**
 * Whether the devices bound to calls are still alive anywhere in the cluster.
 * A device bound to a call holds a presence member under its own key for as
 * long as its connection is open on its node; the engine keeps that member
 * alive with the node's heartbeats (on Redis a lease of two heartbeat
 * periods), so when a node dies without closing anything its members expire
 * and the other nodes' sweeps remove them. A joined participant whose device
 * has no member any more is treated as dropped: its grace period starts.
 */
export class CallLiveness {
  private readonly held = new WeakMap<Conn, string>();

  constructor(private readonly hub: Hub) {}

  /** Before the transition that binds `conn` is stored, so no node can read the binding before the lease exists. */
  async hold(conn: Conn, tenant: string): Promise<void> {
    if (this.held.has(conn)) return;
    const id = this.hub.connId(conn);
    const user = conn.data.principal?.sub ?? "";
    await this.hub.deps.engine.presenceAdd(deviceKey(tenant, id), { user, conn: id });
    this.held.set(conn, tenant);
  }

  release(conn: Conn): void {
    const tenant = this.held.get(conn);
    if (tenant === undefined) return;
    this.held.delete(conn);
    const id = this.hub.connId(conn);
    void this.hub.deps.engine.presenceRemove(deviceKey(tenant, id), id).catch((err) => this.hub.deps.logger.warn("call device lease release failed", { err, conn: id }));
  }

  /**
   * Devices bound to joined participants of `call` on other nodes whose lease
   * is gone. Devices of this node are judged by its own connections (their
   * close starts the grace period already). An engine error answers none.
   */
  async lost(tenant: string, call: CallRecord): Promise<string[]> {
    const out: string[] = [];
    for (const p of call.participants) {
      if (p.state !== "joined" || p.conn === null) continue;
      if (this.hub.connectionsOf(tenant, p.user).some((c) => this.hub.connId(c) === p.conn)) continue;
      const members = await this.hub.deps.engine.presence(deviceKey(tenant, p.conn)).catch(() => undefined);
      if (members !== undefined && members.length === 0) out.push(p.conn);
    }
    return out;
  }
}
