import type { Principal } from "../../hub/ports.ts";
import { RING_SIZE } from "./delivery-ring.ts";
import type { SessionRecord } from "./recovery-store.ts";

type ChannelRecord = SessionRecord["chs"][number];

/**
 * Where to resume one channel of a recovering socket: the offset of the last
 * delivery the client got, found from its last recovery offset (`<epoch><seq>`
 * of the last event it received). Undefined when that cannot be known
 * exactly (the deliveries around it fell out of the ring): no guessing, the
 * socket then starts fresh with `recovered: false`.
 */
export function resumeOffset(c: ChannelRecord, lastSeq: number): string | undefined {
  let since = c.base;
  for (const [seq, off] of c.sent) {
    if (seq > lastSeq) break;
    since = off;
  }
  if (!c.complete && lastSeq !== -Infinity && (c.sent.length === 0 || lastSeq < c.sent[0]![0])) return undefined;
  return since;
}

/** The delivery sequence of the client's last offset; -Infinity when it got nothing from the recorded session. */
export function lastSequence(record: SessionRecord, offset: unknown): number {
  if (typeof offset !== "string" || !offset.startsWith(record.epoch)) return -Infinity;
  const rest = offset.slice(record.epoch.length);
  return /^\d{1,15}$/.test(rest) ? Number(rest) : -Infinity;
}

/**
 * One channel's part of a session record: its base, the deliveries sent to
 * the socket alone (`mine`) and those the node's ring saw after the topic
 * subscription (`after`), at most RING_SIZE of them.
 */
export function channelRecord(
  ch: string,
  base: string,
  mine: [number, string][],
  mineComplete: boolean,
  after: { entries: [number, string][]; complete: boolean },
  presence: boolean,
): ChannelRecord {
  const sent = mine.concat(after.entries).slice(-RING_SIZE);
  const rec: ChannelRecord = { ch, base, sent, complete: mineComplete && after.complete && mine.length + after.entries.length <= RING_SIZE };
  if (presence) rec.presence = true;
  return rec;
}

/**
 * The subscriptions a socket makes before its CONNECT is answered: a
 * recovered session's channels from where the client stopped (a channel
 * whose point is unknown starts afresh and makes the recovery fail), then the
 * namespace's auto-subscriptions not already among them.
 */
export function connectSubscriptions(
  record: SessionRecord | undefined,
  lastSeq: number,
  autoSubscribe: readonly string[],
  p: Principal,
): { subs: { ch: string; since?: string; presence?: true }[]; recovered: boolean } {
  const subs: { ch: string; since?: string; presence?: true }[] = [];
  const seen = new Set<string>();
  let recovered = record !== undefined;
  for (const c of record?.chs ?? []) {
    const since = resumeOffset(c, lastSeq);
    if (since === undefined) recovered = false;
    const sub: { ch: string; since?: string; presence?: true } = since === undefined ? { ch: c.ch } : { ch: c.ch, since };
    if (c.presence) sub.presence = true;
    subs.push(sub);
    seen.add(c.ch);
  }
  const plainSub = /^[A-Za-z0-9_.:@=\-]+$/.test(p.sub);
  for (const t of autoSubscribe) {
    if ((t.includes("{tenant}") && !p.tenant) || !plainSub) continue;
    const ch = t.replaceAll("{sub}", p.sub).replaceAll("{tenant}", p.tenant);
    if (!seen.has(ch)) subs.push({ ch });
  }
  return { subs, recovered };
}
