import { presenceTopic } from "../../hub/channel-policy.ts";
import { RING_SIZE } from "./delivery-ring.ts";
import { channelRecord } from "./recovery-point.ts";
import type { SessionRecord } from "./recovery-store.ts";
import type { SocketIoFanout } from "./socketio-fanout.ts";

/** Suffix of presence topics (channel-policy.ts presenceTopic): channel keys never contain `#`. */
const PRESENCE_SUFFIX = presenceTopic("");
/** Status topics (status-service.ts) are `<tenant>/~status:<user>`: channel names never contain `~`. */
const STATUS_MARK = "/~";

/** One subscribed channel, as far as recovery needs it. */
interface Mark {
  ch: string;
  /** Offset before anything was sent on this subscription. */
  base: string;
  /** Node delivery sequence when the native topic subscription started (Infinity before). */
  seq: number;
  /** Deliveries sent to this socket alone (history replays), as (sequence, offset); null until there is one. */
  sent: [number, string][] | null;
  complete: boolean;
  live: boolean;
}

/**
 * What one Socket.IO socket is subscribed to, kept so that a reconnecting
 * client can be resumed exactly: per channel key a mark (where the
 * subscription started and what was sent to this socket alone), plus the
 * topics that are not channels (presence join/leave, watched users' status).
 * The socket asks it which topics to add to or remove from the node's fan-out.
 */
export class SubscriptionMarks {
  private readonly marks = new Map<string, Mark>();
  /** Topics that are not channels: presence (`<key>#p`, join/leave) and watched users' status; null while none. */
  private signals: Set<string> | null = null;

  /** A `sub` request is sent for `key`: true when this request created its mark (to drop it if refused). */
  requested(key: string, ch: string, since: string | undefined): boolean {
    if (this.marks.has(key)) return false;
    this.marks.set(key, { ch, base: since ?? "0", seq: Infinity, sent: null, complete: true, live: false });
    return true;
  }

  /** The hub answered a `sub` on `key`: a fresh subscription starts at the answer's offset; a refused new one is forgotten. */
  answered(key: string, ok: boolean, off: unknown, since: string | undefined, created: boolean): void {
    const m = this.marks.get(key);
    if (!m) return;
    if (ok && since === undefined) m.base = off as string;
    if (!ok && created) this.marks.delete(key);
  }

  /** A delivery (sequence, offset) went to this socket on `key`; the list is bounded by the delivery ring. */
  sent(key: string, seq: number, off: string): void {
    const m = this.marks.get(key);
    if (!m) return;
    (m.sent ??= []).push([seq, off]);
    if (m.sent.length > RING_SIZE) {
      m.sent.shift();
      m.complete = false;
    }
  }

  /** The hub subscribed `topic`: true when the socket should join the fan-out for it. */
  subscribe(topic: string, seq: number): boolean {
    if (topic.endsWith(PRESENCE_SUFFIX) || topic.includes(STATUS_MARK)) {
      (this.signals ??= new Set()).add(topic);
      return true;
    }
    const m = this.marks.get(topic);
    if (!m || m.live) return false;
    m.live = true;
    m.seq = seq;
    return true;
  }

  /** The hub unsubscribed `topic`: true when the socket should leave the fan-out for it. */
  unsubscribe(topic: string): boolean {
    if (this.signals?.delete(topic) === true) return true;
    const m = this.marks.get(topic);
    if (!m) return false;
    this.marks.delete(topic);
    return m.live;
  }

  isLive(topic: string): boolean {
    return this.marks.get(topic)?.live === true;
  }

  /** Channel keys with a live subscription. */
  liveChannels(): string[] {
    const live: string[] = [];
    for (const [topic, m] of this.marks) if (m.live) live.push(topic);
    return live;
  }

  /** Every topic the socket is in the fan-out for: live channels, then signal topics. */
  *fanoutTopics(): Generator<string> {
    for (const [key, m] of this.marks) if (m.live) yield key;
    if (this.signals) yield* this.signals;
  }

  /** The session record's channels: each live subscription with what recovery needs. */
  records(fanout: SocketIoFanout): SessionRecord["chs"] {
    const chs: SessionRecord["chs"] = [];
    for (const [key, m] of this.marks) {
      if (!m.live) continue;
      const presence = this.signals?.has(presenceTopic(key)) === true;
      chs.push(channelRecord(m.ch, m.base, m.sent ?? [], m.complete, fanout.deliveredAfter(key, m.seq), presence));
    }
    return chs;
  }
}
