import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { LATEST_SCHEMA, SchemaTooNewError, type Migration } from "../migrations.ts";
import { pendingMigrations, type SqlDriver, type SqlStatement, type SqlValue } from "../sql/driver.ts";
import { openSqlite, type SqliteDatabase } from "./sqlite-database.ts";

/**
 * The embedded store's database: one SQLite file in DATA_DIR (see sqlite-database.ts), owned by
 * this process (exclusive locking, like the engine's history file).
 * Statements run synchronously; the promise shape is the port's.
 */
export class SqliteDriver implements SqlDriver {
  readonly kind = "sqlite" as const;
  readonly path: string;
  private db: SqliteDatabase | undefined;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, "records.sqlite");
  }

  private get open_(): SqliteDatabase {
    if (!this.db) throw new Error("record store is closed");
    return this.db;
  }

  async open(migrations: readonly Migration[]): Promise<number> {
    const db = openSqlite(this.path);
    this.db = db;
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("PRAGMA busy_timeout = 1000");
    db.exec("PRAGMA journal_mode = WAL");
    // WAL + NORMAL: a committed batch survives a process crash (not a power cut).
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)");
    // One row the availability probe rewrites (see ping).
    db.exec("CREATE TABLE IF NOT EXISTS store_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at_ms INTEGER NOT NULL)");
    const current = db.query<{ v: number | null }>("SELECT max(version) AS v FROM schema_migrations").get()?.v ?? 0;
    if (current > LATEST_SCHEMA) throw new SchemaTooNewError(current, LATEST_SCHEMA);
    for (const m of pendingMigrations(migrations, current)) {
      db.transaction(() => {
        for (const s of m.statements) db.exec(s);
        db.query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)").run(m.version, m.name, Date.now());
      })();
    }
    return Math.max(current, ...migrations.map((m) => m.version));
  }

  async query<T>(sql: string, params: SqlValue[]): Promise<T[]> {
    return this.open_.query<T>(sql).all(...params);
  }

  async run(sql: string, params: SqlValue[]): Promise<number> {
    return this.open_.query(sql).run(...params).changes;
  }

  async transaction(statements: readonly SqlStatement[]): Promise<void> {
    const db = this.open_;
    db.transaction(() => {
      for (const s of statements) db.query(s.sql).run(...s.params);
    })();
  }

  async locked<T>(_lock: string, sql: string, params: SqlValue[]): Promise<T[]> {
    return this.query<T>(sql, params);
  }

  /**
   * A probe write (one row rewritten and committed): the store is marked
   * down when a write failed (disk full, I/O error, a stalled event loop
   * timed out), and only a write that commits shows it can take them again.
   */
  async ping(): Promise<void> {
    this.open_.query("INSERT INTO store_probe (id, at_ms) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms").run(Date.now());
  }

  isUnavailable(err: unknown): boolean {
    // better-sqlite3 puts SQLITE_* in `code` only; bun:sqlite in the message.
    const e = err as { code?: unknown; message?: unknown } | undefined;
    return /SQLITE_(BUSY|LOCKED|FULL|IOERR|CANTOPEN)|closed/i.test(`${String(e?.code ?? "")} ${String(e?.message ?? err)}`);
  }

  describe(): string {
    return this.path;
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}
