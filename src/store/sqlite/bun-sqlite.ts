import { Database, type Statement } from "bun:sqlite";
import type { SqliteDatabase, SqliteStatement } from "./sqlite-database.ts";

/** The SQLite seam on Bun: bun:sqlite, statements handed out as they are. */
class BunSqlite implements SqliteDatabase {
  private readonly statements: Statement[] = [];

  constructor(private readonly db: Database) {}

  exec(sql: string): void {
    this.db.exec(sql);
  }

  prepare<R>(sql: string): SqliteStatement<R> {
    const st = this.db.prepare(sql);
    this.statements.push(st);
    return st as unknown as SqliteStatement<R>;
  }

  query<R>(sql: string): SqliteStatement<R> {
    return this.db.query(sql) as unknown as SqliteStatement<R>;
  }

  transaction<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T {
    return this.db.transaction(fn) as unknown as (...args: A) => T;
  }

  close(): void {
    for (const st of this.statements) st.finalize();
    this.db.close(false);
  }
}

export function openBunSqlite(path: string): SqliteDatabase {
  return new BunSqlite(new Database(path, { create: true, strict: true }));
}
