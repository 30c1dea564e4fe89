import { channelKey, type ResolvedChannel } from "../../hub/channel-policy.ts";
import type { Hub } from "../../hub/hub.ts";
import type { CallParticipant, CallRecord } from "../../store/ports.ts";
import { encodeCall, encodeCallEvent, type DeliveredEvent } from "./call-frames.ts";
import type { CallEvent, Transition } from "./call-machine.ts";

/** The personal channel ringing goes out on (PROTOCOL.md §4: `user:<id>`). */
const USER_NS = "user";

/** Invitees whose ringing a transition starts or stops: their devices follow it on `user:<id>`. */
export function ringAffected(before: CallRecord | undefined, after: CallRecord): string[] {
  const was = new Set(before?.participants.filter((p) => p.state === "ringing").map((p) => p.user));
  return after.participants.filter((p) => p.role === "invitee" && was.has(p.user) !== (p.state === "ringing")).map((p) => p.user);
}

/**
 * How call events reach devices. Events that start or stop an invitee's
 * ringing are published on the invitee's `user:<id>` channel (once, by the
 * node whose transition won), so every device subscribed there on any node
 * gets them in order and a device that was offline recovers them with
 * `since`. `accepted` carries the answering device's `conn`: the user's other
 * devices read it as answered elsewhere. Every other event, and every event
 * for a device not subscribed to its user channel, is sent straight to the
 * participants' connections by each node (`deliver`).
 */
export class CallDelivery {
  constructor(private readonly hub: Hub) {}

  /** Who of `users` gets the events on a user channel: nobody when the policy has no `user` namespace. */
  ringUsers(users: string[]): string[] {
    return Object.hasOwn(this.hub.deps.policy.namespaces, USER_NS) ? users : [];
  }

  /**
   * On the winning node, after the control message went out (a device that
   * subscribes in between then gets an event twice rather than not at all):
   * the transition's events on each user's channel.
   */
  async publish(tenant: string, call: CallRecord, events: CallEvent[], users: readonly string[]): Promise<void> {
    if (users.length === 0) return;
    const body = encodeCall(call);
    const now = this.hub.deps.clock.now();
    await Promise.all(
      users.map(async (user) => {
        const ch = USER_NS + ":" + user;
        const options = this.hub.deps.policy.resolve(ch).options;
        const p = call.participants.find((x) => x.user === user)!;
        try {
          for (const e of events) {
            const data = encodeUserEvent(seenAs(call, e, p), e.user, body, e.ev === "accepted" && e.user === user ? p.conn : undefined);
            await this.hub.deps.engine.publish(channelKey(tenant, ch), { ch, ev: "call", data, ts: now }, options);
          }
        } catch (err) {
          // The call row has the truth (call_get), and a missed call is in the inbox: logged, not retried.
          this.hub.deps.logger.warn("call event not published on the user channel", { err, tenant, user, call: call.id });
        }
      }),
    );
  }

  /** On every node: the events to local devices; a device subscribed to its user channel got the published ones there. */
  deliver(tenant: string, call: CallRecord, events: Transition["events"], published: readonly string[]): void {
    const body = encodeCall(call);
    for (const e of events) {
      for (const p of call.participants) {
        let conns = this.hub.connectionsOf(tenant, p.user);
        if (conns.length === 0) continue;
        if (published.includes(p.user)) {
          const key = channelKey(tenant, USER_NS + ":" + p.user);
          conns = conns.filter((c) => !c.isSubscribed(key));
        }
        const frame = encodeCallEvent(seenAs(call, e, p), e.user, body);
        if (e.ev === "accepted" && p.user === e.user) {
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
}

/**
 * The name participant `p` sees an event by: `ringing` (with the caller as
 * its user) rings every invitee and is the call's `state` for the caller; a
 * `ringing` about a user added to a live call rings that user and is `state`
 * for everyone else.
 */
function seenAs(call: CallRecord, e: CallEvent, p: CallParticipant): DeliveredEvent {
  if (e.ev !== "ringing") return e.ev;
  const rings = e.user === call.caller ? p.role === "invitee" : p.user === e.user;
  return rings ? "ringing" : "state";
}

/** The data of an `ev: "call"` publication on `user:<id>`; `conn` names the device that answered. */
function encodeUserEvent(ev: DeliveredEvent, user: string, call: string, conn: string | null | undefined): string {
  return '{"ev":"' + ev + '","user":' + JSON.stringify(user) + (conn === undefined ? "" : ',"conn":' + JSON.stringify(conn)) + ',"call":' + call + "}";
}
