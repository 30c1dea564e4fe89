/**
 * The SQLite seam: the few calls the embedded engine's history and the
 * embedded record store make, filled by bun:sqlite on Bun and by
 * better-sqlite3 (v12, native, synchronous like bun:sqlite) on Node. Only the
 * module of the running runtime is loaded.
 */
export type SqliteParam = string | number | null;

export interface SqliteStatement<R = unknown> {
  run(...params: SqliteParam[]): { changes: number };
  /** The first row; null or undefined when there is none. */
  get(...params: SqliteParam[]): R | null | undefined;
  all(...params: SqliteParam[]): R[];
  iterate(...params: SqliteParam[]): IterableIterator<R>;
}

export interface SqliteDatabase {
  exec(sql: string): void;
  /** A statement kept until close (finalized then). */
  prepare<R = unknown>(sql: string): SqliteStatement<R>;
  /** A statement cached by its text (for statements built at run time). */
  query<R = unknown>(sql: string): SqliteStatement<R>;
  /** `fn` wrapped in BEGIN … COMMIT (ROLLBACK when it throws). */
  transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T;
  /**
   * Finalizes every statement, then closes: a statement left open would keep
   * the connection (and its exclusive lock) alive as a zombie, and a restart
   * in the same process could not open the file again.
   */
  close(): void;
}

/** Opens (creating it if needed) the database file at `path`. */
export const openSqlite: (path: string) => SqliteDatabase =
  typeof Bun !== "undefined" ? (await import("./bun-sqlite.ts")).openBunSqlite : (await import("./node-sqlite.ts")).openNodeSqlite;
