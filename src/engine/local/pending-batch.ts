import type { ChannelOptions, PublishReceiver } from "../engine.ts";
import type { StoredRow } from "./sqlite-history.ts";

/** A channel's offsets in the embedded engine (see LocalEngine). */
export interface ChannelState {
  /** Last offset assigned. */
  seq: number;
  /** Last offset committed to history (what readers may see). */
  committed: number;
  /** Time of the last publish (ms): idle states are evicted. */
  usedAt: number;
  /**
   * Offset at and below which the pending batch's size trim deletes this
   * channel's messages (its newest pending publication's offset less its
   * history size): those are not written (see toWriteBatch).
   */
  floor: number;
}

/** A row to write, with what toWriteBatch asks about it. */
export interface KeptRow extends StoredRow {
  historySize: number;
  floor: number;
}

/**
 * The publications of one write batch, column by column. A saturated node
 * queues thousands per event-loop turn, most of them to a room whose history
 * keeps only the newest hundred: one object per publication was one more
 * allocation on the hot path, and a row object is now made only for the
 * publications that are written.
 */
export class PendingBatch {
  length = 0;
  readonly states: ChannelState[] = [];
  readonly keys: string[] = [];
  readonly seqs: number[] = [];
  readonly ts: number[] = [];
  /** The frame after its head (what is stored). */
  readonly tails: string[] = [];
  /** The whole `msg` frame, delivered after the commit. */
  readonly frames: string[] = [];
  readonly offs: string[] = [];
  readonly opts: ChannelOptions[] = [];
  readonly receivers: PublishReceiver<unknown>[] = [];
  readonly tags: unknown[] = [];

  push(state: ChannelState, key: string, seq: number, ts: number, tail: string, frame: string, off: string, opts: ChannelOptions, receiver: PublishReceiver<unknown>, tag: unknown): void {
    const i = this.length++;
    this.states[i] = state;
    this.keys[i] = key;
    this.seqs[i] = seq;
    this.ts[i] = ts;
    this.tails[i] = tail;
    this.frames[i] = frame;
    this.offs[i] = off;
    this.opts[i] = opts;
    this.receivers[i] = receiver;
    this.tags[i] = tag;
  }

  /** The publications above their channel's trim floor, as rows to write. */
  rows(): KeptRow[] {
    const out: KeptRow[] = [];
    for (let i = 0; i < this.length; i++) {
      const s = this.states[i]!;
      const seq = this.seqs[i]!;
      if (seq <= s.floor) continue;
      const o = this.opts[i]!;
      out.push({ key: this.keys[i]!, seq, ts: this.ts[i]!, ttlMs: o.historyTtlSec * 1000, tail: this.tails[i]!, historySize: o.historySize, floor: s.floor });
    }
    return out;
  }

  /** Forgets everything (the frames and tags are not kept alive until the next batch). */
  clear(): void {
    this.length = 0;
    this.states.length = 0;
    this.keys.length = 0;
    this.seqs.length = 0;
    this.ts.length = 0;
    this.tails.length = 0;
    this.frames.length = 0;
    this.offs.length = 0;
    this.opts.length = 0;
    this.receivers.length = 0;
    this.tags.length = 0;
  }
}
