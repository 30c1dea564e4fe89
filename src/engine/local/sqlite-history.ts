import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { msgHead } from "../../protocol/encode.ts";
import { KeyFilter } from "./key-filter.ts";
import { openSqlite, type SqliteDatabase, type SqliteStatement as Statement } from "../../store/sqlite/sqlite-database.ts";

export interface StoredRow {
  key: string;
  seq: number;
  /** Publication time (ms); the message expires at ts + ttlMs. */
  ts: number;
  ttlMs: number;
  /** The frame after its head (msgTail): the head is rebuilt from channel and offset on read. */
  tail: string;
}

/** Whether a read may take one more frame of `length` bytes (ByteBudget, SliceBudget). */
export interface Admission {
  admit(length: number): boolean;
  /** True when the read should stop before loading the next segment (a slice that is full: see sliced-read.ts). */
  full?(): boolean;
}

export interface StoredMessage {
  seq: number;
  frame: string;
}

/** Bounds of a history read: messages with seq > floor that have not expired by nowMs. */
export interface ReadWindow {
  nowMs: number;
  floor: number;
}

/** Most bytes of the history file read through a memory map (see the constructor). */
const MMAP_BYTES = 256 * 1024 * 1024;

/** Most messages in one segment; also bounds what size-trimming may keep beyond a channel's history size. */
const MAX_SEGMENT = 512;

/** Consecutive messages of one channel, stored as one row. */
export interface Segment {
  key: string;
  first: number;
  last: number;
  /** When the newest message expires (ms). */
  exp: number;
  ttl: number;
  /** Frame tails joined by "\n". */
  tails: string;
}

/** One write transaction. */
export interface WriteBatch {
  segments: Segment[];
  /** [key, offset]: that channel's messages up to the offset may be dropped. */
  trims: [string, number][];
}

/**
 * Groups rows (publication order, channels interleaved) into segments: each
 * channel's run of consecutive offsets becomes one row. Under load a write
 * batch carries hundreds of publications, and one row per channel instead of
 * one per message cuts the history's share of a publication's cost by two thirds.
 *
 * Rows that the batch's own size trim puts below the kept window (a channel
 * with more publications in the batch than its history size) are not
 * written at all: no reader could see them (readers stop at the newest
 * offset minus the history size, and offsets only grow), and writing them
 * only to delete them in the same transaction was most of a saturated
 * room's write cost.
 */
export function toWriteBatch(rows: readonly StoredRow[], historySizeOf: (row: StoredRow) => number, floorOf?: (row: StoredRow) => number): WriteBatch {
  // Per channel, the offset at and below which this batch's size trim deletes: its newest row's
  // offset less that row's history size. The caller may know it (the engine keeps each channel's
  // newest row); otherwise the newest rows are found from the end.
  let below = floorOf;
  if (below === undefined) {
    const newest = new Map<string, number>();
    for (let i = rows.length - 1; i >= 0; i--) {
      const r = rows[i]!;
      if (!newest.has(r.key)) newest.set(r.key, r.seq - historySizeOf(r));
    }
    below = (r) => newest.get(r.key)!;
  }
  const open = new Map<string, StoredRow[]>();
  const segments: Segment[] = [];
  // A batch is mostly runs of one channel: the run being filled is kept at hand.
  let runKey: string | undefined;
  let run: StoredRow[] = [];
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r.seq <= below(r)) continue;
    let seg: StoredRow[] | undefined;
    if (r.key === runKey) seg = run;
    else {
      seg = open.get(r.key);
      runKey = r.key;
    }
    if (seg === undefined) open.set(r.key, (seg = [r]));
    else if (seg.length < MAX_SEGMENT && seg[seg.length - 1]!.seq + 1 === r.seq && seg[0]!.ttlMs === r.ttlMs) seg.push(r);
    else {
      segments.push(segment(seg));
      open.set(r.key, (seg = [r]));
    }
    run = seg;
  }
  const trims: [string, number][] = [];
  for (const [key, seg] of open) {
    segments.push(segment(seg));
    const last = seg[seg.length - 1]!;
    trims.push([key, last.seq - historySizeOf(last)]);
  }
  return { segments, trims };
}

function segment(rows: StoredRow[]): Segment {
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  let tails = first.tail;
  for (let i = 1; i < rows.length; i++) tails += "\n" + rows[i]!.tail;
  return { key: first.key, first: first.seq, last: last.seq, exp: last.ts + last.ttlMs, ttl: last.ttlMs, tails };
}

/**
 * Channel history and last offsets in one SQLite file (bun:sqlite on Bun, better-sqlite3 on Node).
 *
 * A write batch stores each channel's consecutive messages as one *segment*
 * row: their frame tails (everything after channel and offset, which are
 * rebuilt on read) joined by "\n" (encoded frames are single-line JSON); see
 * toWriteBatch. Storing tails keeps a third fewer bytes, and the write cost
 * is per byte. Size trimming drops whole segments that lie entirely below the
 * kept window; readers apply the exact window (offset floor and per-message
 * TTL), so what a client sees is the same as with per-message rows. Offsets are kept per channel in `channels`
 * so they are never reused after a restart or a trim.
 *
 * `stored` holds every key of either table (filled at open, added to before
 * each write that stores a new key), so lastSeq answers 0 without a query
 * for a channel that was never published to: most subscriptions (every
 * user's own quiet channel) were two SQLite reads each, about 29 % of a
 * connect's JavaScript time. Keys only move between the tables (expiry keeps
 * the last offset in `channels`), so the filter never has to forget one.
 */
export class SqliteHistory {
  readonly path: string;
  private readonly db: SqliteDatabase;
  private readonly insertSegment: Statement;
  private readonly trimBySize: Statement;
  private readonly selectKeptLast: Statement<{ last_seq: number }>;
  private readonly selectNewestLast: Statement<{ last: number | null }>;
  private readonly selectAfter: Statement<SegmentRow>;
  private readonly selectNewestFirst: Statement<SegmentRow>;
  private readonly selectHolding: Statement<{ last: number; first: number; tails: string }>;
  private readonly updateTails: Statement;
  private readonly deleteExpired: (nowMs: number) => number;
  private readonly writeBatch: (batch: WriteBatch) => void;
  private readonly probe: Statement;
  /** Every key either table may hold (see the class comment). */
  private readonly stored = new KeyFilter();
  /** lastSeq calls that queried the file, and those the filter answered (diagnostics: LocalEngine.health). */
  readonly offsetLookups = { read: 0, skipped: 0 };

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "history.sqlite");
    this.db = openSqlite(this.path);
    // One process owns the file: no shared-memory index and no file locks per
    // transaction (a sixth of a small commit's cost), and a second process
    // pointed at the same DATA_DIR fails to start instead of reusing offsets.
    this.db.exec("PRAGMA locking_mode = EXCLUSIVE");
    this.db.exec("PRAGMA busy_timeout = 1000");
    this.db.exec("PRAGMA journal_mode = WAL");
    // WAL + NORMAL: a committed batch survives a process crash (not a power cut).
    this.db.exec("PRAGMA synchronous = NORMAL");
    // Reads through a memory map: a 1 MB history row read with read() calls cost ~3 ms
    // (most of a large recovery's time on the event loop), mapped ~0.7 ms. Writes still
    // go through the WAL. (An I/O error on a mapped page is a signal, not an error code.)
    this.db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS segments (ch TEXT NOT NULL, last INTEGER NOT NULL, first INTEGER NOT NULL, exp INTEGER NOT NULL, ttl INTEGER NOT NULL, tails TEXT NOT NULL, PRIMARY KEY (ch, last)) WITHOUT ROWID",
    );
    this.db.exec("CREATE TABLE IF NOT EXISTS channels (ch TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID");
    this.insertSegment = this.prepare("INSERT OR REPLACE INTO segments (ch, last, first, exp, ttl, tails) VALUES (?, ?, ?, ?, ?, ?)");
    this.migrateMessageRows();
    this.fillStored();
    this.trimBySize = this.prepare("DELETE FROM segments WHERE ch = ? AND last <= ?");
    this.selectKeptLast = this.prepare("SELECT last_seq FROM channels WHERE ch = ?");
    this.probe = this.prepare("INSERT INTO channels (ch, last_seq) VALUES (?, ?) ON CONFLICT (ch) DO UPDATE SET last_seq = excluded.last_seq");
    this.selectNewestLast = this.prepare("SELECT max(last) AS last FROM segments WHERE ch = ?");
    this.selectAfter = this.prepare("SELECT first, ttl, tails FROM segments WHERE ch = ? AND last > ? ORDER BY last ASC");
    this.selectNewestFirst = this.prepare("SELECT first, ttl, tails FROM segments WHERE ch = ? ORDER BY last DESC");
    this.selectHolding = this.prepare("SELECT last, first, tails FROM segments WHERE ch = ? AND last >= ? AND first <= ? ORDER BY last ASC LIMIT 1");
    this.updateTails = this.prepare("UPDATE segments SET tails = ? WHERE ch = ? AND last = ?");
    // A segment goes once its newest message has expired; readers hide older expired ones.
    // The channel's last offset is kept in `channels` first, as the segment that held it may be the one going.
    const keepLast = this.prepare(
      "INSERT INTO channels (ch, last_seq) SELECT ch, max(last) FROM segments WHERE exp < ? GROUP BY ch ON CONFLICT (ch) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)",
    );
    const dropExpired = this.prepare("DELETE FROM segments WHERE exp < ?");
    this.deleteExpired = this.db.transaction((nowMs: number) => {
      keepLast.run(nowMs);
      return dropExpired.run(nowMs).changes;
    });
    // A channel's newest segment carries its last offset; size trimming never removes it (it keeps ≥ 1 message).
    this.writeBatch = this.db.transaction((batch: WriteBatch) => {
      for (const g of batch.segments) this.insertSegment.run(g.key, g.last, g.first, g.exp, g.ttl, g.tails);
      for (const [key, upTo] of batch.trims) if (upTo > 0) this.trimBySize.run(key, upTo);
    });
  }

  private prepare<R = unknown>(sql: string): Statement<R> {
    return this.db.prepare<R>(sql);
  }

  /** Files written before segments kept one row per message; each becomes a one-message segment. */
  private migrateMessageRows(): void {
    const old = this.db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'messages'").get();
    if (!old) return;
    this.db.transaction(() => {
      for (const r of this.db.query<{ ch: string; seq: number; exp: number; frame: string }>("SELECT ch, seq, exp, frame FROM messages").iterate()) {
        this.stored.add(r.ch);
        const tail = r.frame.slice(r.frame.indexOf(',"ev":'));
        this.insertSegment.run(r.ch, r.seq, r.seq, r.exp, r.exp - frameTs(tail), tail);
      }
      this.db.exec("DROP TABLE messages");
    })();
  }

  /**
   * Every channel key in the file, before any lookup. Segments are walked one
   * key to the next (a seek each, on the primary key): the cost follows the
   * channels, not their segments (5,000 channels of 100 segments each: 18 ms
   * against 97 ms for a scan of every row; 100,000 of one segment: 75 against 30).
   */
  private fillStored(): void {
    for (const r of this.db.query<{ ch: string }>("SELECT ch FROM channels").iterate()) this.stored.add(r.ch);
    const next = this.db.query<{ ch: string }>("SELECT ch FROM segments WHERE ch > ? ORDER BY ch LIMIT 1");
    let ch = this.db.query<{ ch: string | null }>("SELECT min(ch) AS ch FROM segments").get()?.ch;
    for (; ch !== null && ch !== undefined; ch = next.get(ch)?.ch) this.stored.add(ch);
  }

  /** Last offset ever assigned to `key` (0 when none). */
  lastSeq(key: string): number {
    if (!this.stored.mayHave(key)) {
      this.offsetLookups.skipped++;
      return 0;
    }
    this.offsetLookups.read++;
    // Two plain lookups cost less than one statement with two subqueries (3.8 vs 4.9 µs).
    return Math.max(this.selectKeptLast.get(key)?.last_seq ?? 0, this.selectNewestLast.get(key)?.last ?? 0);
  }

  /** The key filter's size and fill, with the lookups it saved (see offsetLookups). */
  keyFilter(): { bytes: number; keys: number; falsePositiveRate: number } {
    return { bytes: this.stored.bytes, keys: this.stored.keys, falsePositiveRate: this.stored.falsePositiveRate() };
  }

  /** A tiny committed write (a row no channel key can collide with): throws while the disk refuses writes. */
  probeWrite(): void {
    this.stored.add(PROBE_KEY);
    this.probe.run(PROBE_KEY, Date.now());
  }

  /** Writes a batch (segments, last offsets, size trims) in one transaction. */
  write(batch: WriteBatch): void {
    // Before the commit: a batch that fails leaves only false positives behind.
    for (const g of batch.segments) this.stored.add(g.key);
    this.writeBatch(batch);
  }

  /** Up to `limit` messages after `since` inside the window, oldest first; reading stops where `budget` is spent. */
  since(key: string, since: number, w: ReadWindow, limit: number, budget?: Admission): StoredMessage[] {
    const out: StoredMessage[] = [];
    const after = Math.max(since, w.floor);
    const ch = channelOf(key);
    for (const s of this.selectAfter.iterate(key, after)) {
      const tails = s.tails.split("\n");
      for (let i = 0; i < tails.length && out.length < limit; i++) {
        const seq = s.first + i;
        if (seq > after && frameTs(tails[i]!) + s.ttl >= w.nowMs) {
          if (budget && !budget.admit(tails[i]!.length)) return out;
          out.push({ seq, frame: msgHead(ch, String(seq)) + tails[i]! });
        }
      }
      // A full slice stops here: loading the next segment only to find it does not fit would double a slice's cost.
      if (out.length >= limit || budget?.full?.() === true) break;
    }
    return out;
  }

  /** The newest `limit` messages inside the window, oldest first; reading stops where `budget` is spent. */
  newest(key: string, w: ReadWindow, limit: number, budget?: Admission): StoredMessage[] {
    const out: StoredMessage[] = [];
    const ch = channelOf(key);
    for (const s of this.selectNewestFirst.iterate(key)) {
      const tails = s.tails.split("\n");
      for (let i = tails.length - 1; i >= 0 && out.length < limit; i--) {
        const seq = s.first + i;
        if (seq > w.floor && frameTs(tails[i]!) + s.ttl >= w.nowMs) {
          if (budget && !budget.admit(tails[i]!.length)) return out.reverse();
          out.push({ seq, frame: msgHead(ch, String(seq)) + tails[i]! });
        }
      }
      if (out.length >= limit || s.first <= w.floor) break;
    }
    return out.reverse();
  }

  /**
   * Replaces the tail of the stored message `seq` of `key` (one row rewritten,
   * committed at once); false when no segment holds it. Tails are single-line
   * JSON, so the "\n" joins stay unambiguous.
   */
  replaceTail(key: string, seq: number, tail: string): boolean {
    if (tail.includes("\n")) throw new TypeError("a frame tail is one line of JSON");
    const s = this.selectHolding.get(key, seq, seq);
    if (!s) return false;
    const tails = s.tails.split("\n");
    const i = seq - s.first;
    if (i < 0 || i >= tails.length) return false;
    tails[i] = tail;
    this.updateTails.run(tails.join("\n"), key, s.last);
    return true;
  }

  /** Deletes segments whose newest message expired before `nowMs`; returns how many went. */
  deleteExpiredBefore(nowMs: number): number {
    return this.deleteExpired(nowMs);
  }

  /** Finalizes every statement and closes (see SqliteDatabase.close). */
  close(): void {
    this.db.close();
  }
}

/** Channel keys are `<tenant>/<channel>` of printable characters: this one is nobody's. */
const PROBE_KEY = "\u0000write-probe";

interface SegmentRow {
  first: number;
  ttl: number;
  tails: string;
}

/** Client-visible channel name of a channel key (`<tenant>/<channel>`). */
function channelOf(key: string): string {
  return key.slice(key.indexOf("/") + 1);
}

/** Publication time of an encoded `msg` frame or tail, which always ends with `"ts":<ms>}`. */
function frameTs(frame: string): number {
  const i = frame.lastIndexOf('"ts":');
  return i < 0 ? 0 : Number(frame.slice(i + 5, -1));
}
