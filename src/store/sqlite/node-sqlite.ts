import { createRequire } from "node:module";
import type { SqliteDatabase, SqliteStatement } from "./sqlite-database.ts";

/** The parts of better-sqlite3 used here (it ships no types of its own). */
interface BetterDatabase {
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement<unknown>;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F;
  close(): unknown;
}

// better-sqlite3 is CommonJS with a native addon: loaded with require, resolved from node_modules at run time.
const BetterSqlite = createRequire(import.meta.url)("better-sqlite3") as new (path: string) => BetterDatabase;

/**
 * The SQLite seam on Node: better-sqlite3 12 (13 needs Node 22). Its
 * statements have bun:sqlite's run/get/all/iterate already; what it lacks
 * is bun:sqlite's per-text statement cache (`query`), kept here. Statements
 * are finalized by close itself.
 */
class NodeSqlite implements SqliteDatabase {
  private readonly cache = new Map<string, SqliteStatement<unknown>>();

  constructor(private readonly db: BetterDatabase) {}

  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare<R>(sql: string): SqliteStatement<R> {
    return this.db.prepare(sql) as SqliteStatement<R>;
  }

  query<R>(sql: string): SqliteStatement<R> {
    let st = this.cache.get(sql);
    if (!st) this.cache.set(sql, (st = this.db.prepare(sql)));
    return st as SqliteStatement<R>;
  }

  transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T {
    return this.db.transaction(fn as (...args: never[]) => unknown) as unknown as (...args: A) => T;
  }

  close(): void {
    this.cache.clear();
    this.db.close();
  }
}

export function openNodeSqlite(path: string): SqliteDatabase {
  return new NodeSqlite(new BetterSqlite(path));
}
