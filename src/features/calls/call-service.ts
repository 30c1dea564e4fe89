import { featureControl } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn } from "../../hub/ports.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { CallRecord, Store } from "../../store/ports.ts";
import type { NotificationService } from "../notifications/notification-service.ts";
import { CallDelivery, ringAffected } from "./call-delivery.ts";
import { CallLiveness } from "./call-liveness.ts";
import { add, due, dropped, endByServer, newCall, nextDeadline, type CallEvent, type Transition } from "./call-machine.ts";
import type { CallMetrics } from "./call-metrics.ts";

export interface CallTimings {
  ringTimeoutMs: number;
  graceMs: number;
  /** How often every node looks in the store for deadlines nobody's timer caught (a node restarted). */
  sweepMs: number;
  maxInvitees: number;
  /** Ended calls are deleted this long after they ended (by the built-in `history-trim` job); 0 = kept forever. */
  retentionSec: number;
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
  private readonly delivery: CallDelivery;
  private readonly liveness: CallLiveness;

  constructor(
    private readonly hub: Hub,
    private readonly store: Store,
    private readonly notifications: NotificationService,
    readonly timings: CallTimings,
    readonly metrics: CallMetrics,
  ) {
    this.delivery = new CallDelivery(hub);
    this.liveness = new CallLiveness(hub);
  }

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
    if (conn) await this.liveness.hold(conn, tenant);
    await this.store.calls.createCall(tenant, call);
    if (conn) this.bind(conn, tenant, call.id);
    this.metrics.started.inc();
    this.remember(tenant, call);
    const events: CallEvent[] = [{ ev: "ringing", user: caller }];
    await this.announce(tenant, call, events, ringAffected(undefined, call));
    return call;
  }

  /** Rings more users into a live call (any present participant, or the backend as `by`). */
  async add(tenant: string, id: string, by: string, users: readonly string[], ringMs?: number): Promise<CallRecord> {
    const call = await this.act(tenant, id, (c) => add(c, by, users, this.now(), ringMs ?? this.timings.ringTimeoutMs, this.timings.maxInvitees));
    const added = call.participants.filter((p) => users.includes(p.user)).map((p) => p.user);
    await this.store.calls.addCallUsers(tenant, id, added, call.createdMs);
    return call;
  }

  /** The backend ends the call for everyone (`by`: whom the record names as having ended it). */
  end(tenant: string, id: string, by: string | null, reason: string): Promise<CallRecord> {
    return this.act(tenant, id, (c) => endByServer(c, by, reason, this.now()));
  }

  /**
   * Applies `step` to the stored call and writes it over the version it read;
   * re-reads and retries when another node got there first. Undefined from
   * `step` means nothing to do. Answers the call as stored after.
   */
  async act(tenant: string, id: string, step: (c: CallRecord) => Transition | undefined, conn?: Conn): Promise<CallRecord> {
    if (conn) await this.liveness.hold(conn, tenant);
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
    await this.announce(tenant, c, t.events, ringAffected(before, c));
  }

  /** Every node delivers the events (`published`: users whose devices on their user channel get them there), then the user channels get theirs. */
  private async announce(tenant: string, call: CallRecord, events: CallEvent[], ringing: string[]): Promise<void> {
    const published = this.delivery.ringUsers(ringing);
    await this.hub.deps.engine.control(featureControl("calls", { op: "call", tenant, call, events, published })).catch((err) => {
      this.hub.deps.logger.warn("call event broadcast failed", { err, tenant, call: call.id });
    });
    await this.delivery.publish(tenant, call, events, published);
  }

  /** On every node: keep the newest version, re-arm its timer, deliver the events to local devices. */
  heard(tenant: string, call: CallRecord, events: CallEvent[], published: readonly string[]): void {
    this.remember(tenant, call);
    this.delivery.deliver(tenant, call, events, published);
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
    await this.sweepLostDevices();
  }

  /** Participants whose device's node died (its lease expired) are held for the grace period as if their connection had closed. */
  private async sweepLostDevices(): Promise<void> {
    for (const [key, call] of this.calls) {
      if (call.state === "ended") continue;
      const tenant = key.slice(0, key.indexOf("/"));
      for (const conn of await this.liveness.lost(tenant, call)) {
        await this.act(tenant, call.id, (c) => dropped(c, conn, this.now(), this.timings.graceMs)).catch((err) =>
          this.hub.deps.logger.warn("call grace start failed", { err, tenant, call: call.id }),
        );
      }
    }
  }

  /** Run by the built-in `history-trim` job (once per cluster): deletes calls that ended more than CALL_RETENTION_SEC ago, in batches. */
  async deleteExpired(): Promise<number> {
    if (this.timings.retentionSec === 0) return 0;
    const before = this.now() - this.timings.retentionSec * 1000;
    let total = 0;
    for (;;) {
      const n = await this.store.calls.deleteEndedCalls(before, 500);
      total += n;
      if (n < 500) return total;
    }
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
    this.liveness.release(conn);
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
