import type { SessionRecord } from "./recovery-store.ts";

/**
 * Where to resume one channel of a recovering socket: the offset of the last
 * delivery the client got, found from its last recovery offset (`<epoch><seq>`
 * of the last event it received). Undefined when that cannot be known
 * exactly (the deliveries around it fell out of the ring): no guessing, the
 * socket then starts fresh with `recovered: false`.
 */
export function resumeOffset(c: SessionRecord["chs"][number], lastSeq: number): string | undefined {
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
