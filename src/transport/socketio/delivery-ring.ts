/**
 * The last deliveries of one channel on this node, as (delivery sequence,
 * channel offset) pairs: what a recovering Socket.IO client's last offset is
 * matched against to learn how far it got on each of its channels.
 */
export const RING_SIZE = 128;

export class DeliveryRing {
  private readonly seqs = new Float64Array(RING_SIZE);
  private readonly offs: string[] = new Array(RING_SIZE);
  private next = 0;
  private count = 0;
  /** Highest sequence pushed out of the ring (0 = none). */
  evicted = 0;

  push(seq: number, off: string): void {
    if (this.count === RING_SIZE) this.evicted = this.seqs[this.next]!;
    else this.count++;
    this.seqs[this.next] = seq;
    this.offs[this.next] = off;
    this.next = (this.next + 1) % RING_SIZE;
  }

  /** Entries after `seq`, oldest first; `complete` is false when some of them fell out of the ring. */
  after(seq: number): { entries: [number, string][]; complete: boolean } {
    const entries: [number, string][] = [];
    const start = (this.next - this.count + RING_SIZE) % RING_SIZE;
    for (let i = 0; i < this.count; i++) {
      const j = (start + i) % RING_SIZE;
      if (this.seqs[j]! > seq) entries.push([this.seqs[j]!, this.offs[j]!]);
    }
    return { entries, complete: this.evicted <= seq };
  }
}
