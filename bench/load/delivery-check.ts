/**
 * What a subscriber counts as received. Every bench publication carries a
 * sequence number `"q"` (and, when several clients publish, its sender
 * `"s"`); a channel delivers in order, so a frame whose sequence is not
 * above the last one seen from that sender is a duplicate (or out of
 * order), a frame of another channel is foreign, and one without a sequence
 * cannot be checked. None of those count as received: a server that
 * duplicates or misroutes cannot look faster for it.
 */
import { includesBytes, readIntAfter } from "../lib/ws-frames.ts";

export interface DeliveryTally {
  valid: number;
  duplicates: number;
  foreign: number;
  unparsed: number;
}

export function newTally(): DeliveryTally {
  return { valid: 0, duplicates: 0, foreign: 0, unparsed: 0 };
}

export function addTallies(ts: (Partial<DeliveryTally> | undefined)[]): DeliveryTally {
  const out = newTally();
  for (const t of ts) {
    out.valid += t?.valid ?? 0;
    out.duplicates += t?.duplicates ?? 0;
    out.foreign += t?.foreign ?? 0;
    out.unparsed += t?.unparsed ?? 0;
  }
  return out;
}

const enc = new TextEncoder();
const Q = enc.encode('"q":');
const S = enc.encode('"s":');

/** The bytes `"ch":"<ch>"` that every dialect's delivery frame carries. */
export function channelBytes(ch: string): Uint8Array {
  return enc.encode(`"ch":${JSON.stringify(ch)}`);
}

/** One per subscriber connection (sequences are per connection); tallies may be shared. */
export class SeqFilter {
  private readonly last: number[] = [];

  constructor(
    private readonly tally: DeliveryTally,
    private readonly ch: Uint8Array,
  ) {}

  /** True for a fresh delivery of the channel; otherwise counts why not. */
  accept(buf: Uint8Array, s: number, e: number): boolean {
    const t = this.tally;
    if (!includesBytes(buf, s, e, this.ch)) {
      t.foreign++;
      return false;
    }
    const q = readIntAfter(buf, s, e, Q);
    if (q < 0) {
      t.unparsed++;
      return false;
    }
    const sender = Math.max(0, readIntAfter(buf, s, e, S));
    if (q <= (this.last[sender] ?? -1)) {
      t.duplicates++;
      return false;
    }
    this.last[sender] = q;
    t.valid++;
    return true;
  }
}
