import type { Feature, FeatureFrame } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn, Principal } from "../../hub/ports.ts";
import { encodeOk } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { CallRecord, Store } from "../../store/ports.ts";
import type { NotificationService } from "../notifications/notification-service.ts";
import { CallGetFrame, callActionFrame, encodeCall, IceServersFrame, InviteFrame, SIGNALS, signalFrame, StatsFrame, type CallActionFrame, type SignalFrame } from "./call-frames.ts";
import { accept, cancel, hangup, leave, reject, rejoin, type Transition } from "./call-machine.ts";
import { CallMetrics } from "./call-metrics.ts";
import { CallRelay, type SignalBudget } from "./call-relay.ts";
import { CallService, type CallTimings } from "./call-service.ts";
import { iceServersFor, type IceConfig } from "./ice-servers.ts";
import { encodeContext } from "./call-context.ts";

export interface CallsConfig extends CallTimings {
  signal: SignalBudget;
  /** Roles allowed to invite from a client; empty = any user of the tenant. */
  inviteRoles: readonly string[];
  ice: IceConfig;
}

type Action = (c: CallRecord, user: string, conn: string, nowMs: number) => Transition;
const ACTIONS: Record<string, Action> = {
  accept,
  rejoin,
  reject: (c, user, _conn, now) => reject(c, user, now),
  cancel: (c, user, _conn, now) => cancel(c, user, now),
  hangup: (c, user, _conn, now) => hangup(c, user, now),
  leave: (c, user, _conn, now) => leave(c, user, now),
};
/** Actions that bind the sending device to the call (its signalling goes there, its close starts the grace period). */
const BINDS = new Set(["accept", "rejoin"]);

/**
 * Calls as a hub feature: the lifecycle frames, the signalling relay, quality
 * reports, ICE server configuration, and the `participant` rule that lets
 * the call's participants use the `call:<id>` namespace without a token
 * naming the call.
 */
export function callsFeature(hub: Hub, store: Store, notifications: NotificationService, cfg: CallsConfig): { feature: Feature; service: CallService } {
  const metrics: CallMetrics = new CallMetrics((): number => service.activeCount());
  const service: CallService = new CallService(hub, store, notifications, cfg, metrics);
  const relay = new CallRelay(hub, service, cfg.signal);
  hub.deps.metrics.extra.push(metrics);

  const audit = (event: string, conn: Conn, p: Principal, fields: Record<string, unknown>) => {
    if (hub.deps.logger.auditing) hub.deps.logger.audit(event, { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ...fields });
  };
  const reply = (conn: Conn, id: number | undefined, call: CallRecord) => {
    if (id !== undefined && !conn.data.closing) hub.send(conn, encodeOk(id, undefined, { call: encodeCall(call) }));
  };
  const participantOf = async (p: Principal, id: string) => {
    const c = await service.view(p.tenant, id);
    if (!c || !c.participants.some((x) => x.user === p.sub)) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such call");
    return c;
  };

  const frames: Record<string, FeatureFrame> = {
    invite: {
      schema: InviteFrame,
      budget: "shared",
      async handle(conn, p, f: InviteFrame) {
        hub.assertAccepting();
        if (cfg.inviteRoles.length > 0 && !p.roles.some((r) => cfg.inviteRoles.includes(r))) {
          throw new SwitchboardError("AUTHORIZATION_FAILED", "your roles may not start calls (CALL_INVITE_ROLES)");
        }
        if (f.call !== undefined) {
          const call = await service.add(p.tenant, f.call, p.sub, f.to, f.ringMs);
          reply(conn, f.id, call);
          audit("call_add", conn, p, { call: call.id, invitees: call.participants.length - 1 });
          return;
        }
        const call = await service.invite(p.tenant, p.sub, f.to, f.media!, encodeContext(f.context), conn, f.ringMs);
        reply(conn, f.id, call);
        audit("call_invite", conn, p, { call: call.id, invitees: call.participants.length - 1, media: call.media });
      },
    },
    call_get: {
      schema: CallGetFrame,
      budget: "shared",
      async handle(conn, p, f: { id: number; call: string }) {
        reply(conn, f.id, await participantOf(p, f.call));
      },
    },
    call_stats: {
      schema: StatsFrame,
      budget: "shared",
      async handle(conn, p, f: StatsFrame) {
        const c = await participantOf(p, f.call);
        await store.calls.addCallQuality(p.tenant, c.id, { rttMs: f.rttMs, jitterMs: f.jitterMs, lossPct: f.lossPct, bitrateKbps: f.bitrateKbps });
        metrics.rtt.observe(f.rttMs / 1000);
        metrics.jitter.observe(f.jitterMs / 1000);
        metrics.loss.observe(f.lossPct / 100);
        metrics.bitrate.observe(f.bitrateKbps * 1000);
        if (f.id !== undefined && !conn.data.closing) hub.send(conn, encodeOk(f.id));
      },
    },
    call_media: {
      schema: callActionFrame("call_media"),
      budget: "shared",
      async handle(conn, p, f: CallActionFrame) {
        const c = await participantOf(p, f.call);
        if (c.answeredMs !== null) metrics.media.observe(Math.max(0, hub.deps.clock.now() - c.answeredMs) / 1000);
        if (f.id !== undefined && !conn.data.closing) hub.send(conn, encodeOk(f.id));
      },
    },
    ice_servers: {
      schema: IceServersFrame,
      budget: "shared",
      handle(conn, p, f: { id: number }) {
        const ice = iceServersFor(cfg.ice, p.sub, hub.deps.clock.now());
        hub.send(conn, encodeOk(f.id, ice));
      },
    },
  };
  for (const [t, action] of Object.entries(ACTIONS)) {
    frames[t] = {
      schema: callActionFrame(t),
      budget: "shared",
      async handle(conn, p, f: CallActionFrame) {
        const me = hub.connId(conn);
        const call = await service.act(p.tenant, f.call, (c) => action(c, p.sub, me, hub.deps.clock.now()), BINDS.has(t) ? conn : undefined);
        reply(conn, f.id, call);
        audit("call_" + t, conn, p, { call: f.call, state: call.state });
      },
    };
  }
  for (const t of SIGNALS) frames[t] = { schema: signalFrame(t), budget: "own", handle: (conn, p, f: SignalFrame) => relay.handle(conn, p, f) };

  const feature: Feature = {
    name: "calls",
    frames,
    rules: {
      participant: async (p, c) => {
        const call = await service.view(p.tenant, c.rest);
        const me = call?.participants.find((x) => x.user === p.sub);
        return call !== undefined && call.state !== "ended" && me !== undefined && (me.state === "joined" || me.state === "away");
      },
    },
    control(body) {
      if (typeof body.tenant !== "string") return;
      if (body.op === "call") service.heard(body.tenant, body.call as CallRecord, body.events as Transition["events"], Array.isArray(body.published) ? (body.published as string[]) : []);
      else if (body.op === "relay") relay.deliver(body.tenant, body.to as { user: string; conn: string }[], body.frame as string);
    },
    closed: (conn) => service.closed(conn),
  };
  return { feature, service };
}
