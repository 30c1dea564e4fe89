import { encodeArray, encodeOk } from "../protocol/encode.ts";
import { SwitchboardError } from "../protocol/errors.ts";
import {
  parseClientFrame,
  type ClientFrame,
} from "../protocol/frames.ts";
import { parsePubText } from "../protocol/pub-text.ts";
import type { PublicationInput, PublishReceiver } from "../engine/engine.ts";
import { HISTORY_ANSWER_MAX_BYTES, RECOVERY_MAX_BYTES } from "../engine/history-budget.ts";
import { channelKey, presenceTopic, type ResolvedChannel, type Route } from "./channel-policy.ts";
import { isFrameError, parseFeatureFrame, type FeatureFrame } from "./features.ts";
import type { Hub } from "./hub.ts";
import { ConnFlag, type Conn, type ConnData, type Principal } from "./ports.ts";
import { revokeDisallowed } from "./revocation.ts";
import { recover, type Recovered } from "./recovery.ts";
import { frameOffset } from "./subscription-buffers.ts";

type Frame<T extends ClientFrame["t"]> = Extract<ClientFrame, { t: T }>;
/** What the publish path reads of a `pub` (data only when it is not JSON text yet). */
type PubFields = Pick<Frame<"pub">, "id" | "ch" | "ev"> & { data?: unknown };

/** Largest backlog sent on a `sub` with `since`; a larger gap answers recovered:false. */
const MAX_RECOVERY = 10_000;

/** A client publication on its way through the engine: the engine's input and the receiver's tag in one object. */
interface PubTicket extends PublicationInput {
  conn: Conn;
  id: number;
  /** performance.now() when it arrived. */
  t0: number;
}

/** One handler per client frame type; each answers its `id` exactly once. */
export class RequestHandlers implements PublishReceiver<PubTicket> {
  constructor(private readonly hub: Hub) {}

  handle(conn: Conn, json: unknown): void {
    const hub = this.hub;
    const f = parseClientFrame(json);
    if ("ok" in f) {
      // Feature frames are looked up only here, off the path of the core frames.
      const feature = typeof json === "object" && json !== null ? hub.features.frames.get((json as { t?: unknown }).t as string) : undefined;
      if (feature) return this.featureFrame(conn, (json as { t: string }).t, feature, json as Record<string, unknown>);
      hub.countIn("invalid");
      return hub.fail(conn, f.id, new SwitchboardError("VALIDATION_ERROR", f.message));
    }
    hub.countIn(f.t);
    const d = conn.data;
    const p = d.principal;
    if (f.t === "auth") {
      if (p) return hub.fail(conn, f.id, new SwitchboardError("BAD_REQUEST", "already authenticated"));
      hub.authenticating(conn);
      let verified: Principal | Promise<Principal>;
      try {
        verified = hub.deps.verifier.verifyNow(f.token);
      } catch (err) {
        return hub.authFailed(conn, f.id, err as SwitchboardError);
      }
      // An HS256 token is answered here, inside the socket's corked callback.
      if (!(verified instanceof Promise)) return hub.authenticate(conn, verified, f.id);
      verified.then(
        (principal) => hub.authenticate(conn, principal, f.id),
        (err: SwitchboardError) => hub.authFailed(conn, f.id, err),
      );
      return;
    }
    if (!p) return hub.fail(conn, f.id, new SwitchboardError("AUTHENTICATION_FAILED", "authenticate first with an auth frame"));
    const wait = hub.bucket.take(d);
    if (wait > 0) return hub.fail(conn, f.id, new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many frames; slow down", { retryAfter: wait }));
    let pending: Promise<void>;
    try {
      switch (f.t) {
        case "pub":
          return this.pub(conn, p, f);
        case "sub":
          pending = this.sub(conn, p, f);
          break;
        case "unsub":
          pending = this.unsub(conn, p, f);
          break;
        case "presence":
          pending = this.presence(conn, p, f);
          break;
        case "history":
          pending = this.history(conn, p, f);
          break;
        case "refresh":
          pending = this.refresh(conn, p, f);
          break;
      }
    } catch (err) {
      return hub.fail(conn, f.id, err);
    }
    pending.catch((err) => {
      if (!conn.data.closing) hub.fail(conn, f.id, err);
    });
  }

  /**
   * The hot frame of an authenticated connection, read from its text without
   * parsing the whole of it (see parsePubText); false when it is not one
   * parsePubText reads (the frame then goes the general way).
   */
  pubText(conn: Conn, d: ConnData, raw: string): boolean {
    const f = parsePubText(raw);
    if (f === undefined) return false;
    const hub = this.hub;
    hub.countIn("pub");
    const wait = hub.bucket.take(d);
    if (wait > 0) hub.fail(conn, f.id, new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many frames; slow down", { retryAfter: wait }));
    else {
      try {
        this.pub(conn, d.principal!, f, f.data);
      } catch (err) {
        hub.fail(conn, f.id, err);
      }
    }
    return true;
  }

  private featureFrame(conn: Conn, t: string, feature: FeatureFrame, json: Record<string, unknown>): void {
    const hub = this.hub;
    const f = parseFeatureFrame(feature.schema, json);
    const id = isFrameError(f) ? f.id : (f as { id?: number }).id;
    if (isFrameError(f)) {
      hub.countIn("invalid");
      return hub.fail(conn, id, new SwitchboardError("VALIDATION_ERROR", f.message));
    }
    hub.countIn(t);
    const p = conn.data.principal;
    if (!p) return hub.fail(conn, id, new SwitchboardError("AUTHENTICATION_FAILED", "authenticate first with an auth frame"));
    if (feature.budget === "shared") {
      const wait = hub.bucket.take(conn.data);
      if (wait > 0) return hub.fail(conn, id, new SwitchboardError("RATE_LIMIT_EXCEEDED", "too many frames; slow down", { retryAfter: wait }));
    }
    let pending: void | Promise<void>;
    try {
      pending = feature.handle(conn, p, f as never);
    } catch (err) {
      return hub.fail(conn, id, err);
    }
    pending?.catch((err) => {
      if (!conn.data.closing) hub.fail(conn, id, err);
    });
  }

  /**
   * Subscriptions go to many distinct channels (every user's own), so they
   * build the engine key instead of filling the route cache with them; a
   * channel with presence is the exception: each member keeps its key
   * (`conn.data.present`), and the cached route makes that one shared string.
   */
  private resolve(p: Principal, ch: string): Route {
    const policy = this.hub.deps.policy;
    const c = policy.resolve(ch);
    return c.policy.presence ? policy.route(p.tenant, ch) : { c, key: channelKey(p.tenant, ch) };
  }

  /** `text`: the frame's `data` as JSON text when it was read as text, else it is encoded here. */
  private pub(conn: Conn, p: Principal, f: PubFields, text?: string): void {
    const hub = this.hub;
    hub.assertAccepting();
    const { c, key } = hub.deps.policy.route(p.tenant, f.ch);
    if (c.takeover) return this.pubTakenOver(conn, p, f, c, key, text ?? encodeData(f.data));
    if (c.publishRecordRules.length > 0 && !hub.deps.policy.canPublish(p, c)) return this.pubAfterRecordRules(conn, p, f, c, key, text ?? encodeData(f.data));
    hub.deps.policy.assertPublish(p, c);
    const data = text ?? encodeData(f.data);
    const ticket: PubTicket = { ch: f.ch, ev: f.ev, data, from: p.sub, ts: hub.deps.clock.now(), conn, id: f.id, t0: performance.now() };
    hub.inflight++;
    hub.deps.engine.publishTo(key, ticket, c.options, this, ticket);
  }

  /**
   * A publication that only a record rule (participant, the backend hook) can
   * allow: published once the rule said yes. Only namespaces with such a
   * publish rule take this path.
   */
  private pubAfterRecordRules(conn: Conn, p: Principal, f: PubFields, c: ResolvedChannel, key: string, data: string): void {
    const hub = this.hub;
    const t0 = performance.now();
    hub.inflight++;
    (hub.deps.policy.checkPublish(p, c, { ev: f.ev, data }) ?? Promise.resolve()).then(
      () => {
        if (conn.data.closing) return void hub.inflight--;
        const ticket: PubTicket = { ch: f.ch, ev: f.ev, data, from: p.sub, ts: hub.deps.clock.now(), conn, id: f.id, t0 };
        try {
          hub.deps.engine.publishTo(key, ticket, c.options, this, ticket);
        } catch (err) {
          this.failed(ticket, err);
        }
      },
      (err) => {
        hub.inflight--;
        if (!conn.data.closing) hub.fail(conn, f.id, err);
      },
    );
  }

  /** A publication a feature carries (persisted chat): acknowledged once the feature's promise holds. */
  private pubTakenOver(conn: Conn, p: Principal, f: PubFields, c: ResolvedChannel, key: string, data: string): void {
    const hub = this.hub;
    const t0 = performance.now();
    hub.inflight++;
    const run = async () => {
      const check = hub.deps.policy.checkPublish(p, c, { ev: f.ev, data });
      if (check) await check;
      return c.takeover!.publish(key, c, { ch: f.ch, ev: f.ev, data, from: p.sub, ts: hub.deps.clock.now() });
    };
    run().then(
      (off) => {
        hub.inflight--;
        hub.deps.metrics.publishLatency.observe((performance.now() - t0) / 1000);
        hub.deps.metrics.publishesWs.value++;
        if (!conn.data.closing) hub.sendSoon(conn, '{"t":"ok","id":' + f.id + ',"off":"' + off + '"}');
        if (hub.deps.logger.auditing) hub.deps.logger.audit("publish", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ch: f.ch, ev: f.ev });
      },
      (err) => {
        hub.inflight--;
        if (!conn.data.closing) hub.fail(conn, f.id, err);
      },
    );
  }

  published(t: PubTicket, off: string): void {
    const hub = this.hub;
    hub.inflight--;
    hub.deps.metrics.publishLatency.observe((this.ackTime() - t.t0) / 1000);
    hub.deps.metrics.publishesWs.value++;
    // (A closing connection's ack is dropped by the outbox, which checks once per run of frames.)
    hub.sendSoon(t.conn, '{"t":"ok","id":' + t.id + ',"off":"' + off + '"}');
    // The principal may have been refreshed since; user and tenant stay the same (refresh requires it).
    if (hub.deps.logger.auditing) hub.deps.logger.audit("publish", { conn: hub.connId(t.conn), user: t.from, tenant: t.conn.data.principal?.tenant, ch: t.ch, ev: t.ev });
  }

  /**
   * performance.now() for acknowledgements, read once per batch: an engine
   * answers a whole write batch in one synchronous run, and the clock read
   * per publication was a measurable part of its cost.
   */
  private ackTime(): number {
    if (this.ackAt < 0) {
      this.ackAt = performance.now();
      queueMicrotask(this.ackTimeOver);
    }
    return this.ackAt;
  }

  private ackAt = -1;
  private readonly ackTimeOver = (): void => {
    this.ackAt = -1;
  };

  failed(t: PubTicket, err: unknown): void {
    this.hub.inflight--;
    if (!t.conn.data.closing) this.hub.fail(t.conn, t.id, err);
  }

  private async sub(conn: Conn, p: Principal, f: Frame<"sub">): Promise<void> {
    const hub = this.hub;
    const { c, key } = this.resolve(p, f.ch);
    const check = hub.deps.policy.checkSubscribe(p, c);
    if (check) await check;
    if (conn.isSubscribed(key) || hub.buffers.isPending(conn, key)) throw new SwitchboardError("CONFLICT", `already subscribed to ${f.ch}`);
    if (conn.data.subs >= hub.deps.config.ws.maxSubscriptions) {
      throw new SwitchboardError("LIMIT_EXCEEDED", `at most ${hub.deps.config.ws.maxSubscriptions} subscriptions per connection`);
    }
    if (f.presence && !c.policy.joinLeave) throw new SwitchboardError("BAD_REQUEST", `join/leave events are off for namespace ${c.ns}`);
    conn.data.subs++;
    hub.deps.metrics.subscriptions.inc();
    hub.buffers.start(conn, key);
    // A refresh while the backlog is read or sent may take the channel away.
    const allowed = () => {
      const now = conn.data.principal!;
      if (now !== p && !hub.deps.policy.canSubscribe(now, c)) throw new SwitchboardError("AUTHORIZATION_FAILED", `not allowed to subscribe to ${f.ch}`);
    };
    let done: Recovered | undefined;
    try {
      const limit = f.since === undefined ? 0 : Math.min(MAX_RECOVERY, c.options.historySize);
      const pending = hub.deps.engine.history(key, { since: f.since, limit, maxBytes: RECOVERY_MAX_BYTES }, c.options);
      // No await for a synchronous answer: the rest then runs inside this socket's (corked) callback.
      const res = pending instanceof Promise ? await pending : pending;
      if (f.since === undefined) {
        if (!conn.data.closing) allowed();
        const held = hub.buffers.finish(conn, key);
        done = held && { off: res.off, recovered: res.recovered, missed: 0, held };
      } else {
        const r = recover(hub, conn, key, limit, c.options, res, allowed);
        done = r instanceof Promise ? await r : r;
      }
    } catch (err) {
      if (hub.buffers.finish(conn, key)) {
        conn.data.subs--;
        hub.deps.metrics.subscriptions.inc(undefined, -1);
      }
      throw err;
    }
    if (!done || conn.data.closing) return;
    hub.send(conn, encodeOk(f.id, { off: done.off, recovered: done.recovered, missed: done.missed }));
    let last = Number(done.off);
    for (const frame of done.held.frames) {
      const off = frameOffset(frame);
      if (off > last) {
        hub.send(conn, frame);
        last = off;
      }
    }
    conn.subscribe(key);
    if (f.presence) conn.subscribe(presenceTopic(key));
    if (hub.deps.logger.auditing) hub.deps.logger.audit("subscribe", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ch: f.ch });
    await hub.features.subscribed(conn, key, c);
  }

  private async unsub(conn: Conn, p: Principal, f: Frame<"unsub">): Promise<void> {
    const hub = this.hub;
    const key = channelKey(p.tenant, f.ch);
    if (!conn.isSubscribed(key)) throw new SwitchboardError("RESOURCE_NOT_FOUND", `not subscribed to ${f.ch}`);
    conn.unsubscribe(key);
    conn.unsubscribe(presenceTopic(key));
    conn.data.subs--;
    hub.deps.metrics.subscriptions.inc(undefined, -1);
    hub.send(conn, encodeOk(f.id));
    if (hub.deps.logger.auditing) hub.deps.logger.audit("unsubscribe", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ch: f.ch });
    await hub.features.unsubscribed(conn, key);
  }

  private async presence(conn: Conn, p: Principal, f: Frame<"presence">): Promise<void> {
    const hub = this.hub;
    const { c, key } = this.resolve(p, f.ch);
    const check = hub.deps.policy.checkSubscribe(p, c);
    if (check) await check;
    if (!c.policy.presence) throw new SwitchboardError("BAD_REQUEST", `presence is off for namespace ${c.ns}`);
    const members = await hub.features.presenceMembers(key, await hub.deps.engine.presence(key));
    if (conn.data.closing) return;
    hub.send(conn, encodeOk(f.id, { members }));
    // Who is in a care team's room is PHI as much as what they wrote: reads are audited too.
    if (hub.deps.logger.auditing) hub.deps.logger.audit("presence", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ch: f.ch, members: members.length });
  }

  private async history(conn: Conn, p: Principal, f: Frame<"history">): Promise<void> {
    const hub = this.hub;
    const { c, key } = this.resolve(p, f.ch);
    const check = hub.deps.policy.checkSubscribe(p, c);
    if (check) await check;
    if (c.options.historySize <= 0) throw new SwitchboardError("BAD_REQUEST", `history is off for namespace ${c.ns}`);
    const res = await hub.deps.engine.history(key, { since: f.since, limit: f.limit ?? 100, maxBytes: HISTORY_ANSWER_MAX_BYTES }, c.options);
    if (conn.data.closing) return;
    const fields = res.more ? { off: res.off, recovered: res.recovered, more: true } : { off: res.off, recovered: res.recovered };
    hub.send(conn, encodeOk(f.id, fields, { messages: encodeArray(res.frames) }));
    if (hub.deps.logger.auditing) hub.deps.logger.audit("history", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ch: f.ch, messages: res.frames.length });
  }

  private async refresh(conn: Conn, p: Principal, f: Frame<"refresh">): Promise<void> {
    const hub = this.hub;
    const next = await hub.deps.verifier.verify(f.token);
    if (next.sub !== p.sub || next.tenant !== p.tenant) {
      throw new SwitchboardError("AUTHENTICATION_FAILED", "the new token is for another user or tenant");
    }
    if (conn.data.closing) return;
    conn.data.principal = next;
    conn.data.flags &= ~ConnFlag.WARNED;
    hub.send(conn, encodeOk(f.id, next.expMs !== undefined ? { exp: Math.floor(next.expMs / 1000) } : {}));
    const revoked = revokeDisallowed(hub, conn);
    hub.deps.logger.audit("refresh", { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, revoked });
  }
}

function encodeData(data: unknown): string {
  try {
    return JSON.stringify(data);
  } catch {
    throw new SwitchboardError("BAD_REQUEST", "data cannot be encoded as JSON");
  }
}
