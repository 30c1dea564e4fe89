import { ByteBudget } from "../history-budget.ts";
import type { StoredMessage } from "./sqlite-history.ts";

/**
 * A large `since` read on the embedded engine is synchronous SQLite work:
 * a 4 MiB recovery backlog cost ~7 ms of CPU in one piece, during which no
 * other socket on the node was served. Reads are therefore done in slices
 * of at most SLICE_BYTES / SLICE_MESSAGES, with a timer turn (which lets the
 * event loop poll I/O; setImmediate and microtasks do not) between slices.
 */
export const SLICE_BYTES = 256 * 1024;
export const SLICE_MESSAGES = 1000;

/**
 * What one slice of a read may take: at most SLICE_BYTES and SLICE_MESSAGES
 * (its first message always, when the whole answer still has room), and
 * never more than the whole answer's byte budget (`total`, shared by the
 * slices of one read; its first message always fits).
 */
export class SliceBudget {
  /** The slice is full: more may follow in the next one. */
  cut = false;
  private bytes = 0;
  private count = 0;

  constructor(readonly total: ByteBudget | undefined) {}

  admit(length: number): boolean {
    if (this.count > 0 && (this.bytes + length > SLICE_BYTES || this.count >= SLICE_MESSAGES)) {
      this.cut = true;
      return false;
    }
    if (this.total !== undefined && !this.total.admit(length)) {
      this.cut = true;
      return false;
    }
    this.bytes += length;
    this.count++;
    return true;
  }

  /** The slice has its share (checked between segments, so that a slice does not load a segment it cannot take). */
  full(): boolean {
    if (this.bytes >= SLICE_BYTES || this.count >= SLICE_MESSAGES) this.cut = true;
    return this.cut;
  }

  /** The whole answer's byte budget is spent: the answer says `more`. */
  get spent(): boolean {
    return this.total?.cut === true;
  }
}

/** Reads up to `limit` messages after `after` (offset), within one slice's budget; throws when the engine stopped. */
export type SliceReader = (after: number, limit: number, budget: SliceBudget) => StoredMessage[];

export interface SlicedRead {
  rows: StoredMessage[];
  /** False when messages between two slices went away meanwhile (trimmed by size or expired): the rows stop before them. */
  contiguous: boolean;
}

/** One timer turn: the event loop polls sockets before this resolves. */
export const yieldToIo = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Continues a read whose first slice (`rows`, non-empty, cut by its slice
 * budget) did not reach `top`: one slice per timer turn, up to `top`, at
 * most `limit` rows in all, until the total budget is spent. Rows published
 * after the read began (offset above `top`) are not part of it.
 */
export async function readOn(read: SliceReader, rows: StoredMessage[], top: number, limit: number, total: ByteBudget | undefined): Promise<SlicedRead> {
  for (;;) {
    const last = rows[rows.length - 1]!.seq;
    if (last >= top || rows.length >= limit || total?.cut === true) return { rows, contiguous: true };
    await yieldToIo();
    const budget = new SliceBudget(total);
    const next = read(last, limit - rows.length, budget);
    let n = 0;
    while (n < next.length && next[n]!.seq <= top) n++;
    if (n === 0 || next[0]!.seq !== last + 1) return { rows, contiguous: false };
    for (let i = 0; i < n; i++) rows.push(next[i]!);
  }
}
