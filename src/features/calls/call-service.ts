import { channelKey, type ResolvedChannel } from "../../hub/channel-policy.ts";
import { featureControl } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn } from "../../hub/ports.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { CallRecord, Store } from "../../store/ports.ts";
import type { NotificationService } from "../notifications/notification-service.ts";
import { encodeCall, encodeCallEvent } from "./call-frames.ts";
import { due, dropped, newCall, nextDeadline, type CallEvent, type Transition } from "./call-machine.ts";
import type { CallMetrics } from "./call-metrics.ts";

export interface CallTimings {
  ringTimeoutMs: number;
  graceMs: number;
  /** How often every node looks in the store for deadlines nobody's timer caught (a node restarted). */
  sweepMs: number;
  maxInvitees: number;
}

/** How often a transition is retried when another node changed the call in between. */
const CAS_ATTEMPTS = 12;

/**
 * The call lifecycle across the cluster. The store's call row is the truth;
 * every transition is a compare-and-set on its version, so when several nodes
 * race (three nodes' ring timers firing at once) exactly one wins, and only
 * the winner posts missed-call notifications and broadcasts the events. The
 * events go to every node as a feature control message; each node keeps the
 * newest version of the calls it heard of (for the relay's participant check
 * and the timers) and delivers the frames to its own connections.
 */
export class CallService {
  /** `<tenant>/<call>` → newest version heard of; ended calls stay a minute. */
  readonly calls = new Map<string, CallRecord>();
  private readonly timers = new Map<string, Timer>();
  private readonly loading = new Map<string, Promise<CallRecord | undefined>>();
  /** Connections of this node bound to calls (invite from a client, accept, rejoin). */
  private readonly bound = new WeakMap<Conn, Set<string>>();
  private sweeper: Timer | undefined;

  constructor(
    private readonly hub: Hub,
    private readonly store: Store,
    private readonly notifications: NotificationService,
    readonly timings: CallTimings,
    readonly metrics: CallMetrics,
  ) {}

  start(): void {
    this.sweeper = setInterval(() => void this.sweep(), this.timings.sweepMs);
    this.sweeper.unref();
    void this.sweep();
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private now(): number {
    return this.hub.deps.clock.now();
  }

  async invite(tenant: string, caller: string, to: readonly string[], media: CallRecord["media"], context: string | null, conn: Conn | null, ringMs?: number): Promise<CallRecord> {
    const invitees = [...new Set(to)].filter((u) => u !== caller);
    if (invitees.length === 0) throw new SwitchboardError("BAD_REQUEST", "to: invite at least one user other than the caller");
    if (invitees.length > this.timings.maxInvitees) throw new SwitchboardError("LIMIT_EXCEEDED", `to: at most ${this.timings.maxInvitees} invitees (CALL_MAX_INVITEES)`);
    const call = newCall(crypto.randomUUID(), caller, invitees, media, context, conn ? this.hub.connId(conn) : null, this.now(), ringMs ?? this.timings.ringTimeoutMs);
    await this.store.calls.createCall(tenant, call);
    if (conn) this.bind(conn, tenant, call.id);
    this.metrics.started.inc();
    this.remember(tenant, call);
    await this.broadcast(tenant, call, [{ ev: "ringing", user: caller }]);
    return call;
  }

  /**
   * Applies `step` to the stored call and writes it over the version it read;
   * re-reads and retries when another node got there first. Undefined from
   * `step` means nothing to do. Answers the call as stored after.
   */
  async act(tenant: string, id: string, step: (c: CallRecord) => Transition | undefined, conn?: Conn): Promise<CallRecord> {
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      const c = await this.store.calls.call(tenant, id);
      if (!c) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such call");
      const t = step(c);
      if (!t) return c;
      t.call.version = c.version + 1;
      if (!(await this.store.calls.replaceCall(tenant, t.call, c.version, nextDeadline(t.call)))) continue;
      if (conn) this.bind(conn, tenant, id);
      await this.won(tenant, c, t);
      return t.call;
    }
    throw new SwitchboardError("SERVICE_UNAVAILABLE", "the call is changing too fast; retry");
  }

  /** What only the winning node does: count, post missed-call entries, broadcast. */
  private async won(tenant: string, before: CallRecord, t: Transition): Promise<void> {
    const c = t.call;
    if (before.state === "ringing" && c.state === "live") {
      this.metrics.answered.inc();
      this.metrics.setup.observe((c.answeredMs! - c.createdMs) / 1000);
    }
    for (const e of t.events) if (e.ev === "rejected") this.metrics.rejected.inc();
    if (c.state === "ended" && c.outcome) this.metrics.outcome(c.outcome);
    this.metrics.missed.inc(undefined, t.missed.length);
    this.remember(tenant, c);
    for (const invitee of t.missed) await this.hub.event(tenant, "call.missed", { call: c.id, invitee, caller: c.caller });
    if (t.missed.length > 0) {
      const data = JSON.stringify({ call: c.id, caller: c.caller, media: c.media, context: c.context === null ? null : JSON.parse(c.context) });
      // The call is ended or live already: a failed inbox write is logged, not retried as a transition.
      await this.notifications
        .post(tenant, t.missed, { type: "missed_call", title: `Missed ${c.media} call from ${c.caller}`, body: null, data, priority: "high" })
        .catch((err) => this.hub.deps.logger.warn("missed-call notification failed", { err, tenant, call: c.id }));
    }
    await this.broadcast(tenant, c, t.events);
  }

  private async broadcast(tenant: string, call: CallRecord, events: CallEvent[]): Promise<void> {
    await this.hub.deps.engine.control(featureControl("calls", { op: "call", tenant, call, events })).catch((err) => {
      this.hub.deps.logger.warn("call event broadcast failed", { err, tenant, call: call.id });
    });
  }

  /** On every node: keep the newest version, re-arm its timer, deliver the events to local devices. */
  heard(tenant: string, call: CallRecord, events: CallEvent[]): void {
    this.remember(tenant, call);
    const body = encodeCall(call);
    for (const e of events) {
      const frame = encodeCallEvent(e.ev, e.user, body);
      for (const p of call.participants) {
        const conns = this.hub.connectionsOf(tenant, p.user);
        if (conns.length === 0) continue;
        if (e.ev === "ringing" && p.role === "caller") {
          const state = encodeCallEvent("state", e.user, body);
          for (const c of conns) this.hub.send(c, state);
        } else if (e.ev === "accepted" && p.user === e.user) {
          const elsewhere = encodeCallEvent("answered_elsewhere", e.user, body);
          for (const c of conns) this.hub.send(c, this.hub.connId(c) === p.conn ? frame : elsewhere);
        } else for (const c of conns) this.hub.send(c, frame);
      }
    }
    const gone = call.state === "ended" ? call.participants.map((p) => p.user) : events.filter((e) => e.ev === "left").map((e) => e.user);
    if (gone.length > 0) this.revoke(tenant, call.id, gone);
  }

  /** Whoever is no longer in the call loses `call:<id>` at once, unless a token rule (the `calls` claim) still allows it. */
  private revoke(tenant: string, id: string, users: readonly string[]): void {
    let c: ResolvedChannel;
    try {
      c = this.hub.deps.policy.resolve("call:" + id);
    } catch {
      return;
    }
    const key = channelKey(tenant, c.ch);
    for (const user of users) {
      for (const conn of this.hub.connectionsOf(tenant, user)) {
        const p = conn.data.principal;
        if (!p || !conn.isSubscribed(key)) continue;
        const end = () => void this.hub.endSubscription(conn, key, c.ch, "AUTHORIZATION_FAILED", "no longer in the call");
        try {
          this.hub.deps.policy.checkSubscribe(p, c)?.catch(end);
        } catch {
          end();
        }
      }
    }
  }

  private remember(tenant: string, call: CallRecord): void {
    const key = tenant + "/" + call.id;
    const known = this.calls.get(key);
    if (known && known.version >= call.version) return;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.calls.set(key, call);
    if (call.state === "ended") {
      // Kept a while as a tombstone, so an older version arriving late cannot bring the call back.
      const forget = setTimeout(() => this.calls.get(key) === call && this.calls.delete(key), 60_000);
      forget.unref();
      return;
    }
    const at = nextDeadline(call);
    if (at === null) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      void this.fire(tenant, call.id);
    }, Math.max(0, at - this.now()) + 5);
    timer.unref();
    this.timers.set(key, timer);
  }

  /** A deadline passed: every node that knows the call tries, the compare-and-set lets one through. */
  private async fire(tenant: string, id: string): Promise<void> {
    await this.act(tenant, id, (c) => due(c, this.now())).catch((err) => this.hub.deps.logger.warn("call deadline failed", { err, tenant, call: id }));
  }

  private async sweep(): Promise<void> {
    const rows = await this.store.calls.dueCalls(this.now(), 100).catch(() => []);
    for (const r of rows) await this.fire(r.tenant, r.id);
  }

  /** The newest version this node knows, reading the store once when it knows none (loads are shared, so frames keep their order). */
  view(tenant: string, id: string): CallRecord | Promise<CallRecord | undefined> {
    const key = tenant + "/" + id;
    const known = this.calls.get(key);
    if (known) return known;
    let p = this.loading.get(key);
    if (!p) {
      p = this.store.calls.call(tenant, id).then((c) => {
        this.loading.delete(key);
        if (c) this.remember(tenant, c);
        return c;
      });
      p.catch(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  private bind(conn: Conn, tenant: string, id: string): void {
    let set = this.bound.get(conn);
    if (!set) this.bound.set(conn, (set = new Set()));
    set.add(tenant + "/" + id);
  }

  /** A connection of this node closed: a participant it was bound for is held for the grace period. */
  closed(conn: Conn): void {
    const set = this.bound.get(conn);
    if (!set) return;
    const connId = this.hub.connId(conn);
    for (const key of set) {
      const slash = key.indexOf("/");
      const tenant = key.slice(0, slash);
      const id = key.slice(slash + 1);
      void this.act(tenant, id, (c) => dropped(c, connId, this.now(), this.timings.graceMs)).catch((err) =>
        this.hub.deps.logger.warn("call grace start failed", { err, tenant, call: id }),
      );
    }
  }

  activeCount(): number {
    let n = 0;
    for (const c of this.calls.values()) if (c.state !== "ended") n++;
    return n;
  }
}
