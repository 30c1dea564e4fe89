import { Database, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export interface StoredRow {
  key: string;
  seq: number;
  expMs: number;
  frame: string;
}

/**
 * Channel history and last offsets in one bun:sqlite file. Writes come in
 * batches (one transaction per event-loop turn); offsets are kept per channel
 * in `channels` so they are never reused after a restart or a trim.
 */
export class SqliteHistory {
  readonly path: string;
  private readonly db: Database;
  private readonly insertMsg: Statement;
  private readonly upsertChannel: Statement;
  private readonly trimBySize: Statement;
  private readonly selectLast: Statement<{ last_seq: number }, [string]>;
  private readonly selectSince: Statement<{ seq: number; frame: string }, [string, number, number, number]>;
  private readonly selectNewest: Statement<{ seq: number; frame: string }, [string, number, number]>;
  private readonly deleteExpired: Statement;
  private readonly writeBatch: (rows: StoredRow[], trims: Map<string, number>) => void;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "history.sqlite");
    this.db = new Database(this.path, { create: true, strict: true });
    this.db.exec("PRAGMA journal_mode = WAL");
    // WAL + NORMAL: a committed batch survives a process crash (not a power cut).
    this.db.exec("PRAGMA synchronous = NORMAL");
    this.db.exec("PRAGMA busy_timeout = 2000");
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS messages (ch TEXT NOT NULL, seq INTEGER NOT NULL, exp INTEGER NOT NULL, frame TEXT NOT NULL, PRIMARY KEY (ch, seq)) WITHOUT ROWID",
    );
    // No index on exp: it would double the B-tree work of every write; the
    // once-a-minute TTL sweep scans a table that size-trimming keeps bounded.
    this.db.exec("DROP INDEX IF EXISTS messages_exp");
    this.db.exec("CREATE TABLE IF NOT EXISTS channels (ch TEXT PRIMARY KEY, last_seq INTEGER NOT NULL) WITHOUT ROWID");
    this.insertMsg = this.db.prepare("INSERT OR REPLACE INTO messages (ch, seq, exp, frame) VALUES (?, ?, ?, ?)");
    this.upsertChannel = this.db.prepare(
      "INSERT INTO channels (ch, last_seq) VALUES (?1, ?2) ON CONFLICT (ch) DO UPDATE SET last_seq = max(last_seq, ?2)",
    );
    this.trimBySize = this.db.prepare("DELETE FROM messages WHERE ch = ? AND seq <= ?");
    this.selectLast = this.db.prepare("SELECT last_seq FROM channels WHERE ch = ?");
    this.selectSince = this.db.prepare(
      "SELECT seq, frame FROM messages WHERE ch = ? AND seq > ? AND exp >= ? ORDER BY seq ASC LIMIT ?",
    );
    this.selectNewest = this.db.prepare(
      "SELECT seq, frame FROM messages WHERE ch = ? AND exp >= ? ORDER BY seq DESC LIMIT ?",
    );
    this.deleteExpired = this.db.prepare("DELETE FROM messages WHERE exp < ?");
    this.writeBatch = this.db.transaction((rows: StoredRow[], trims: Map<string, number>) => {
      const last = new Map<string, number>();
      for (const r of rows) {
        this.insertMsg.run(r.key, r.seq, r.expMs, r.frame);
        last.set(r.key, r.seq);
      }
      for (const [key, seq] of last) this.upsertChannel.run(key, seq);
      for (const [key, upTo] of trims) if (upTo > 0) this.trimBySize.run(key, upTo);
    });
  }

  /** Last offset ever assigned to `key` (0 when none). */
  lastSeq(key: string): number {
    return this.selectLast.get(key)?.last_seq ?? 0;
  }

  /** Writes rows and size-trims in one transaction; `trims` maps key → delete seq ≤ value. */
  write(rows: StoredRow[], trims: Map<string, number>): void {
    this.writeBatch(rows, trims);
  }

  since(key: string, since: number, nowMs: number, limit: number): { seq: number; frame: string }[] {
    return this.selectSince.all(key, since, nowMs, limit);
  }

  newest(key: string, nowMs: number, limit: number): { seq: number; frame: string }[] {
    return this.selectNewest.all(key, nowMs, limit).reverse();
  }

  deleteExpiredBefore(nowMs: number): number {
    return this.deleteExpired.run(nowMs).changes;
  }

  close(): void {
    this.db.close();
  }
}
