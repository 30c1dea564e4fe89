/**
 * The last deliveries of one channel on this node, as (delivery sequence,
 * channel offset) pairs: what a recovering Socket.IO client's last offset is
 * matched against to learn how far it got on each of its channels. Storage
 * grows with use up to RING_SIZE: most channels (a user's own) see a few
 * publications an hour, and every connection has one.
 */
export const RING_SIZE = 128;

export class DeliveryRing {
  private seqs: number[] = [];
  private offs: string[] = [];
  private next = 0;
  /** Highest sequence pushed out of the ring (0 = none). */
  evicted = 0;

  push(seq: number, off: string): void {
    if (this.seqs.length < RING_SIZE) {
      this.seqs.push(seq);
      this.offs.push(off);
      return;
    }
    this.evicted = this.seqs[this.next]!;
    this.seqs[this.next] = seq;
    this.offs[this.next] = off;
    this.next = (this.next + 1) % RING_SIZE;
  }

  /** Entries after `seq`, oldest first; `complete` is false when some of them fell out of the ring. */
  after(seq: number): { entries: [number, string][]; complete: boolean } {
    const entries: [number, string][] = [];
    const n = this.seqs.length;
    for (let i = 0; i < n; i++) {
      const j = (this.next + i) % n;
      if (this.seqs[j]! > seq) entries.push([this.seqs[j]!, this.offs[j]!]);
    }
    return { entries, complete: this.evicted <= seq };
  }
}
