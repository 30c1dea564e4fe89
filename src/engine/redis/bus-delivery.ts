import type { Logger } from "../../observability/logger.ts";
import type { ControlMessage, EngineSink } from "../engine.ts";
import type { StreamEntry } from "./bus-reader.ts";

export interface BusDeliveryOptions {
  controlStream: string;
  sink: EngineSink;
  logger: Logger;
  /** The HISTORY script: [current offset, epoch base, entries after `since`]. */
  readHistory(key: string, since: string, limit: number): Promise<[string, string, StreamEntry[]]>;
}

/** Offset of a history entry id "<off>-0". */
export function historyOffset(id: string): number {
  return Number(id.slice(0, id.indexOf("-")));
}

/**
 * Turns bus entries into sink calls. Publication entries are
 * [k, key, o, off, f, frame], signals [k, key, f, frame], control [c, json].
 * It remembers the last offset delivered per channel with local subscribers;
 * a jump means bus entries were trimmed before this node read them, and the
 * missing messages are delivered from history first, so subscribers that
 * stayed connected see no silent gap.
 */
export class BusDelivery {
  private readonly delivered = new Map<string, number>();
  /** Channel gaps filled from history since start. */
  repairs = 0;

  /** Channels with local subscribers this node has delivered to (forgotten when nobody listens). */
  get channels(): number {
    return this.delivered.size;
  }

  constructor(private readonly opts: BusDeliveryOptions) {}

  async handle(stream: string, entries: StreamEntry[]): Promise<void> {
    const { sink, logger } = this.opts;
    if (stream === this.opts.controlStream) {
      for (const [, f] of entries) {
        try {
          sink.control(JSON.parse(f[1]!) as ControlMessage);
        } catch (err) {
          logger.error("bad control message on the bus", { err });
        }
      }
      return;
    }
    for (const [, f] of entries) {
      const key = f[1]!;
      if (!sink.hasSubscribers(key)) {
        this.delivered.delete(key);
        continue;
      }
      if (f[2] !== "o") {
        sink.deliver(key, f[3]!);
        continue;
      }
      const off = Number(f[3]);
      const last = this.delivered.get(key);
      if (last !== undefined && off <= last) continue;
      if (last !== undefined && off > last + 1) await this.repair(key, last, off);
      this.delivered.set(key, off);
      sink.deliver(key, f[5]!);
    }
  }

  /** Drops remembered offsets of channels nobody here listens to any more (bounded memory). */
  forgetUnsubscribed(): void {
    for (const key of this.delivered.keys()) if (!this.opts.sink.hasSubscribers(key)) this.delivered.delete(key);
  }

  /**
   * Delivers the messages of `key` between `last` and `off` from history, in
   * order. Throws when Redis fails, so the read loop retries the batch instead
   * of skipping the gap (offsets already delivered are not delivered twice).
   */
  private async repair(key: string, last: number, off: number): Promise<void> {
    const missing = off - last - 1;
    let next = last;
    try {
      while (next < off - 1) {
        const [, base, entries] = await this.opts.readHistory(key, String(next), Math.min(off - next - 1, 1000));
        if (Number(base) >= last) return; // a new epoch of the channel, not a gap
        const before = next;
        for (const [id, f] of entries) {
          const o = historyOffset(id);
          if (o >= off) break;
          this.opts.sink.deliver(key, f[1]!);
          next = o;
        }
        if (next === before) break;
      }
      this.repairs++;
      const delivered = next - last;
      (delivered === missing ? this.opts.logger.warn : this.opts.logger.error)("bus gap on a channel filled from history", { missing, delivered });
    } catch (err) {
      this.delivered.set(key, next);
      throw err;
    }
  }
}
