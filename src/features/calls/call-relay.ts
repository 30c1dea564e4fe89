import { featureControl } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Conn, Principal } from "../../hub/ports.ts";
import { encodeOk } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { CallRecord } from "../../store/ports.ts";
import { encodeSignal, type SignalFrame } from "./call-frames.ts";
import type { CallService } from "./call-service.ts";

export interface SignalBudget {
  ratePerSec: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * WebRTC signalling (offer, answer, ice, renegotiate) relayed only between
 * the devices bound to a call: never published on a channel, never in
 * history, never in the store, and audited without the SDP or candidate.
 * It has its own token bucket per connection, sized for ICE bursts, so the
 * frame budget of chat never throttles it; a budget is kept only for
 * connections that ever signalled.
 */
export class CallRelay {
  private readonly buckets = new WeakMap<Conn, Bucket>();

  constructor(
    private readonly hub: Hub,
    private readonly calls: CallService,
    private readonly budget: SignalBudget,
  ) {}

  handle(conn: Conn, p: Principal, f: SignalFrame): void | Promise<void> {
    const wait = this.take(conn);
    if (wait > 0) throw new SwitchboardError("RATE_LIMIT_EXCEEDED", "too much call signalling; slow down", { retryAfter: wait });
    const c = this.calls.view(p.tenant, f.call);
    if (c instanceof Promise) return c.then((known) => this.relay(conn, p, f, known));
    this.relay(conn, p, f, c);
  }

  private relay(conn: Conn, p: Principal, f: SignalFrame, c: CallRecord | undefined): void {
    const hub = this.hub;
    const me = hub.connId(conn);
    const sender = c?.participants.find((x) => x.user === p.sub);
    // A tenant member outside the call learns nothing about it, not even whether it exists.
    if (!c || !sender || c.state === "ended" || sender.state !== "joined" || sender.conn !== me) {
      throw new SwitchboardError("AUTHORIZATION_FAILED", "not in this call from this connection (accept or rejoin first)");
    }
    const targets = c.participants.filter((x) => x.state === "joined" && x.conn !== null && x.user !== p.sub && (f.to === undefined || x.user === f.to));
    if (targets.length === 0) throw new SwitchboardError("RESOURCE_NOT_FOUND", f.to === undefined ? "nobody else is in the call yet" : `${f.to} is not in the call`);
    const frame = encodeSignal(f.t, c.id, p.sub, JSON.stringify(f.data ?? null));
    const remote: { user: string; conn: string }[] = [];
    for (const t of targets) {
      const local = hub.connectionsOf(p.tenant, t.user).find((x) => hub.connId(x) === t.conn);
      if (local) hub.send(local, frame);
      else remote.push({ user: t.user, conn: t.conn! });
    }
    if (remote.length > 0) {
      hub.deps.engine.control(featureControl("calls", { op: "relay", tenant: p.tenant, to: remote, frame })).catch((err) => hub.deps.logger.warn("call signal relay failed", { err, call: c.id }));
    }
    if (f.id !== undefined) hub.send(conn, encodeOk(f.id));
    if (hub.deps.logger.auditing) hub.deps.logger.audit("call_signal", { conn: me, user: p.sub, tenant: p.tenant, call: c.id, kind: f.t, to: f.to ?? "all", bytes: frame.length });
  }

  /** On every node: the devices named that are connected here get the frame. */
  deliver(tenant: string, to: { user: string; conn: string }[], frame: string): void {
    for (const t of to) {
      const local = this.hub.connectionsOf(tenant, t.user).find((x) => this.hub.connId(x) === t.conn);
      if (local) this.hub.send(local, frame);
    }
  }

  /** Token bucket; answers 0 when allowed, else ms until the next token. */
  private take(conn: Conn): number {
    const { ratePerSec, burst } = this.budget;
    if (ratePerSec === 0) return 0;
    const now = this.hub.deps.clock.now();
    let b = this.buckets.get(conn);
    if (!b) this.buckets.set(conn, (b = { tokens: burst, at: now }));
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) * ratePerSec) / 1000);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / ratePerSec);
  }
}
