import { msgHead, msgTail } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { Logger } from "../../observability/logger.ts";
import type {
  ChannelOptions,
  ControlMessage,
  Engine,
  EngineHealth,
  EngineSink,
  HistoryQuery,
  HistoryResult,
  PresenceEntry,
  PresenceMember,
  PublicationInput,
  PublishReceiver,
} from "../engine.ts";
import { MemoryPresence } from "./memory-presence.ts";
import { SqliteHistory, toWriteBatch, type StoredRow } from "./sqlite-history.ts";
import { ByteBudget } from "../history-budget.ts";
import { KeyChains } from "./key-chains.ts";
import { PendingBatch, type ChannelState, type KeptRow } from "./pending-batch.ts";
import { readOn, SliceBudget, type SliceReader } from "./sliced-read.ts";

export interface LocalEngineOptions {
  dataDir: string;
  nodeId: string;
  logger: Logger;
  /** A channel's in-memory state goes after this long without a publish (default 60 s). */
  channelIdleMs?: number;
}

const DEFAULT_CHANNEL_IDLE_MS = 60_000;
const WRITE_PROBE_MS = 1000;

type Resolvers = PromiseWithResolvers<string>;

/** `publish` is `publishTo` with the promise's resolvers as the tag. */
const PROMISE_RECEIVER: PublishReceiver<Resolvers> = {
  published: (r, off) => r.resolve(off),
  failed: (r, err) => r.reject(err),
};

const historySizeOf = (row: StoredRow) => (row as KeptRow).historySize;
const floorOf = (row: StoredRow) => (row as KeptRow).floor;

/**
 * The embedded single-node engine: offsets and history in bun:sqlite,
 * presence in memory. Publications to history channels are written in one
 * transaction per event-loop turn and delivered after the commit, so a
 * subscriber never sees a message that the publisher was told failed.
 * (A writer thread for the commits measured slower on the chat bench: the
 * thread hop adds latency to every batch in a closed loop, and the commit is
 * already cheap with segments.)
 */
export class LocalEngine implements Engine {
  readonly kind = "local" as const;
  private readonly opts: LocalEngineOptions;
  private sink: EngineSink | undefined;
  private store: SqliteHistory | undefined;
  private readonly states = new Map<string, ChannelState>();
  private readonly presenceStore = new MemoryPresence();
  /** publishCommitted calls, one at a time per channel (one process: the hold is this chain). */
  private readonly holds = new KeyChains();
  private pending = new PendingBatch();
  /** The batch written last, cleared, for the next turn (see flush). */
  private spare: PendingBatch | undefined;
  private flushScheduled = false;
  private stopped = false;
  private evictTimer: Timer | undefined;
  private writeProbe: Timer | undefined;

  constructor(opts: LocalEngineOptions) {
    this.opts = opts;
  }

  async start(sink: EngineSink): Promise<void> {
    this.sink = sink;
    try {
      this.store = new SqliteHistory(this.opts.dataDir);
    } catch (err) {
      const locked = /locked|busy/i.test((err as Error)?.message ?? "");
      const why = locked ? " (the file is in use by another process: is another Switchboard node using this DATA_DIR?)" : "";
      throw new SwitchboardError("SERVICE_UNAVAILABLE", `cannot open history database in ${this.opts.dataDir}${why}`, { cause: err });
    }
    sink.availability(true, "embedded engine ready");
    const idleMs = this.opts.channelIdleMs ?? DEFAULT_CHANNEL_IDLE_MS;
    this.evictTimer = setInterval(() => this.evictIdle(Date.now() - idleMs), Math.max(100, Math.min(idleMs / 2, 30_000)));
    this.evictTimer.unref();
  }

  /**
   * Forgets the state of channels not published to since `before`, so that
   * memory follows the active channels, not every channel ever used. Offsets
   * stay unique: a history channel reloads its last offset from the store
   * (kept there also when its messages are trimmed), and a channel without
   * history restarts at the clock in microseconds, which is only evicted
   * while its counter is below that (see state()).
   */
  private evictIdle(before: number): void {
    const nowUs = Date.now() * 1000;
    for (const [key, s] of this.states) {
      if (s.usedAt >= before || s.seq !== s.committed) continue;
      // A no-history counter that outran the clock would restart below itself: keep it.
      if (s.seq >= nowUs) continue;
      this.states.delete(key);
    }
  }

  /**
   * Offsets of a history channel continue from the last one stored. A channel
   * without history stores nothing, so after a restart its counter starts at
   * the current time in microseconds: above anything the previous process
   * could have issued (that would take over 10^6 messages a second on one
   * channel), so offsets never go backwards.
   */
  private state(key: string, opts: ChannelOptions): ChannelState {
    let s = this.states.get(key);
    if (!s) {
      const last = opts.historySize > 0 && this.store ? this.store.lastSeq(key) : Date.now() * 1000;
      s = { seq: last, committed: last, usedAt: 0, floor: 0 };
      this.states.set(key, s);
    }
    return s;
  }

  publish(key: string, pub: PublicationInput, opts: ChannelOptions): Promise<string> {
    const r = Promise.withResolvers<string>();
    this.publishTo(key, pub, opts, PROMISE_RECEIVER, r);
    return r.promise;
  }

  publishTo<T>(key: string, pub: PublicationInput, opts: ChannelOptions, receiver: PublishReceiver<T>, tag: T): void {
    if (this.stopped || !this.store || !this.sink) {
      return receiver.failed(tag, new SwitchboardError("SERVICE_UNAVAILABLE", "engine is not running"));
    }
    const s = this.state(key, opts);
    s.usedAt = pub.ts;
    const seq = ++s.seq;
    const off = String(seq);
    const tail = msgTail(pub);
    const frame = msgHead(pub.ch, off) + tail;
    if (opts.historySize <= 0) {
      s.committed = seq;
      this.sink.deliver(key, frame);
      return receiver.published(tag, off);
    }
    s.floor = seq - opts.historySize;
    this.pending.push(s, key, seq, pub.ts, tail, frame, off, opts, receiver as PublishReceiver<unknown>, tag);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  publishCommitted(key: string, pubs: readonly PublicationInput[], opts: ChannelOptions, commit: (offs: readonly string[]) => Promise<void>, _holdMs: number): Promise<string[]> {
    return this.holds.run(key, async () => {
      if (this.stopped || !this.store) throw new SwitchboardError("SERVICE_UNAVAILABLE", "engine is not running");
      // After every offset handed out so far, committed or still in this turn's batch.
      const before = this.state(key, opts).seq;
      const offs = pubs.map((_, i) => String(before + 1 + i));
      await commit(offs);
      if (this.stopped) throw new SwitchboardError("SERVICE_UNAVAILABLE", "engine stopped; nothing was published");
      // (The state may have been evicted while the commit ran; state() reloads the same offset.)
      if (this.state(key, opts).seq !== before) throw new SwitchboardError("SERVICE_UNAVAILABLE", `another publish took ${key}'s next offset; nothing was published`);
      // Published in one go: the offsets are the ones committed, and one batch writes and delivers them.
      return Promise.all(pubs.map((p) => this.publish(key, p, opts)));
    });
  }

  /**
   * The store refused a write (disk full, I/O error): the node is not ready
   * (`/health/ready` 503, so traffic goes elsewhere) until a probe write
   * succeeds again, checked every WRITE_PROBE_MS.
   */
  private writesRefused(): void {
    if (this.writeProbe || this.stopped) return;
    this.sink?.availability(false, "history storage refuses writes");
    this.writeProbe = setInterval(() => {
      try {
        this.store?.probeWrite();
      } catch {
        return;
      }
      this.writesAccepted();
    }, WRITE_PROBE_MS);
    this.writeProbe.unref();
  }

  private writesAccepted(): void {
    clearInterval(this.writeProbe);
    this.writeProbe = undefined;
    if (!this.stopped) this.sink?.availability(true, "history storage accepts writes again");
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const b = this.pending;
    if (b.length === 0) return;
    // Publications made while this batch is delivered go to the next one (and a flush
    // re-entered from a delivery, by stop(), takes that one, never this one).
    this.pending = this.spare ?? new PendingBatch();
    this.spare = undefined;
    const n = b.length;
    try {
      this.store!.write(toWriteBatch(b.rows(), historySizeOf, floorOf));
    } catch (err) {
      this.opts.logger.error("history write failed", { err, batch: n });
      const e = new SwitchboardError("SERVICE_UNAVAILABLE", "history storage failed; message not published", { cause: err });
      // The transaction wrote nothing: hand the offsets out again, so that no
      // hole makes the next recovery over it answer recovered:false.
      for (let i = 0; i < n; i++) b.states[i]!.seq = b.states[i]!.committed;
      for (let i = 0; i < n; i++) b.receivers[i]!.failed(b.tags[i], e);
      b.clear();
      this.spare = b;
      this.writesRefused();
      return;
    }
    if (this.writeProbe) this.writesAccepted();
    const sink = this.sink!;
    const { states, seqs, keys, frames, receivers, tags, offs } = b;
    for (let i = 0; i < n; i++) {
      const s = states[i]!;
      if (seqs[i]! > s.committed) s.committed = seqs[i]!;
      sink.deliver(keys[i]!, frames[i]!);
      receivers[i]!.published(tags[i], offs[i]!);
    }
    b.clear();
    this.spare = b;
  };

  async signal(key: string, frame: string): Promise<void> {
    this.sink?.deliver(key, frame);
  }

  /**
   * Answers at once when the read is small; a `since` read larger than one
   * slice (SLICE_BYTES / SLICE_MESSAGES) resolves later, read in slices
   * across event-loop turns, as of the offset current when it began.
   */
  history(key: string, query: HistoryQuery, opts: ChannelOptions): HistoryResult | Promise<HistoryResult> {
    if (!this.store) throw new SwitchboardError("SERVICE_UNAVAILABLE", "engine is not running");
    // Reads do not cache a channel's state: a subscription to a quiet channel
    // (every user's personal channel) should cost no memory here.
    const top = this.states.get(key)?.committed ?? (opts.historySize > 0 ? this.store.lastSeq(key) : 0);
    const off = String(top);
    const window = { nowMs: Date.now(), floor: top - opts.historySize };
    if (query.since === undefined) {
      // limit 0 (a plain `sub` asking only for the current offset) needs no query.
      const budget = query.maxBytes === undefined ? undefined : new ByteBudget(query.maxBytes);
      // Offset 0: nothing was ever stored, so there is nothing to read.
      const rows = opts.historySize > 0 && query.limit > 0 && top > 0 ? this.store.newest(key, window, query.limit, budget) : [];
      return { frames: rows.map((r) => r.frame), off, recovered: true, more: budget?.cut };
    }
    const since = Number(query.since);
    if (!Number.isSafeInteger(since) || since < 0 || since > top) return { frames: [], off, recovered: false };
    if (since === top) return { frames: [], off, recovered: true };
    if (opts.historySize <= 0) return { frames: [], off, recovered: false };
    const total = query.maxBytes === undefined ? undefined : new ByteBudget(query.maxBytes);
    // Without a byte bound (internal callers reading a few known offsets) the read is one piece.
    const slice = total === undefined ? undefined : new SliceBudget(total);
    const rows = this.store.since(key, since, window, query.limit, slice).filter((r) => r.seq <= top);
    const recovered = rows.length > 0 && rows[0]!.seq === since + 1;
    if (slice?.cut && !slice.spent && rows.length > 0 && rows[rows.length - 1]!.seq < top && rows.length < query.limit) {
      // A large read goes on in slices across event-loop turns (see sliced-read.ts).
      const store = this.store;
      const read: SliceReader = (after, limit, budget) => {
        if (this.stopped) throw new SwitchboardError("SERVICE_UNAVAILABLE", "engine stopped during a history read");
        return store.since(key, after, window, limit, budget);
      };
      return readOn(read, rows, top, query.limit, total).then((r) => ({
        frames: r.rows.map((row) => row.frame),
        off,
        recovered: recovered && r.contiguous,
        more: total!.cut || !r.contiguous,
      }));
    }
    return { frames: rows.map((r) => r.frame), off, recovered, more: total?.cut };
  }

  async replace(key: string, off: string, frame: string, opts: ChannelOptions): Promise<boolean> {
    if (!this.store || this.stopped) throw new SwitchboardError("SERVICE_UNAVAILABLE", "engine is not running");
    const seq = Number(off);
    const head = msgHead(channelOf(key), off);
    if (!frame.startsWith(head)) throw new TypeError("a replacement must be a msg frame of the same channel and offset");
    const top = this.states.get(key)?.committed ?? (opts.historySize > 0 ? this.store.lastSeq(key) : 0);
    // Not yet committed (still in this turn's batch) or outside the kept window: not in history.
    if (!Number.isSafeInteger(seq) || seq <= top - opts.historySize || seq > top) return false;
    try {
      return this.store.replaceTail(key, seq, frame.slice(head.length));
    } catch (err) {
      if (err instanceof TypeError) throw err;
      throw new SwitchboardError("SERVICE_UNAVAILABLE", "history storage failed; message not replaced", { cause: err });
    }
  }

  async presenceAdd(key: string, member: PresenceMember): Promise<void> {
    this.presenceStore.add(key, member);
  }

  async presenceRemove(key: string, conn: string): Promise<boolean> {
    return this.presenceStore.remove(key, conn);
  }

  async presence(key: string): Promise<PresenceEntry[]> {
    return this.presenceStore.list(key);
  }

  acquireUserConn(userKey: string, _conn: string, max: number): boolean {
    return this.presenceStore.acquire(userKey, max);
  }

  async releaseUserConn(userKey: string, _conn: string): Promise<void> {
    this.presenceStore.release(userKey);
  }

  async userConnCount(userKey: string): Promise<number> {
    return this.presenceStore.count(userKey);
  }

  async control(msg: ControlMessage): Promise<void> {
    this.sink?.control(msg);
  }

  async trim(): Promise<number> {
    if (!this.store || this.stopped) return 0;
    return this.store.deleteExpiredBefore(Date.now());
  }

  health(): EngineHealth {
    const up = !this.stopped && this.store !== undefined;
    return {
      up,
      detail: up ? "embedded engine (SQLite history)" : "embedded engine stopped",
      path: this.store?.path,
      channels: this.states.size,
      // Last-offset lookups that read the file and those the key filter answered 0 (channels never published to).
      offsetLookups: this.store ? { ...this.store.offsetLookups } : undefined,
    };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    clearInterval(this.evictTimer);
    clearInterval(this.writeProbe);
    this.flush();
    this.stopped = true;
    this.store?.close();
    this.sink?.availability(false, "engine stopped");
  }
}

/** Client-visible channel name of a channel key (`<tenant>/<channel>`). */
function channelOf(key: string): string {
  return key.slice(key.indexOf("/") + 1);
}
