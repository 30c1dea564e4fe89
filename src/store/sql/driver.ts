import type { Migration } from "../migrations.ts";

export type SqlValue = string | number | null;

export interface SqlStatement {
  sql: string;
  params: SqlValue[];
  /**
   * Set on a one-row `INSERT … VALUES (…)`: statements of one batch with the
   * same `merge` text become one multi-row INSERT (`sql` is then
   * `merge + " VALUES (…)" + mergeTail`).
   */
  merge?: string;
  mergeTail?: string;
  /** Of the statements of one batch with the same `last` key, only the last one runs (idempotent "raise to" updates). */
  last?: string;
}

/**
 * What SqlStore needs from a database: the two technologies fill this port.
 * SQL is written with `?` placeholders; a driver rewrites them if its
 * database wants another form. Numbers may come back as strings (PostgreSQL
 * BIGINT): SqlStore converts.
 */
export interface SqlDriver {
  readonly kind: "sqlite" | "postgres";
  /** Opens the database and applies pending migrations; answers the schema version now in use. */
  open(migrations: readonly Migration[]): Promise<number>;
  query<T>(sql: string, params: SqlValue[]): Promise<T[]>;
  /** Runs one statement; answers the number of rows it changed. */
  run(sql: string, params: SqlValue[]): Promise<number>;
  /** Runs the statements in one transaction: all of them or none. */
  transaction(statements: readonly SqlStatement[]): Promise<void>;
  /**
   * Runs one query while holding the cluster-wide lock `lock`, so that it
   * sees every change committed by an earlier holder (PostgreSQL: an advisory
   * lock taken by a statement of its own, then the query with a fresh
   * snapshot; SQLite: one process owns the file and statements run one at a
   * time, so no lock is needed).
   */
  locked<T>(lock: string, sql: string, params: SqlValue[]): Promise<T[]>;
  /** A cheap round trip that fails when the database cannot be reached. */
  ping(): Promise<void>;
  /** True when `err` means the database is unreachable (rather than a bad statement). */
  isUnavailable(err: unknown): boolean;
  /** Human-readable place of the database, without credentials. */
  describe(): string;
  close(): Promise<void>;
}

/** The migrations above `current`, in order. */
export function pendingMigrations(migrations: readonly Migration[], current: number): readonly Migration[] {
  return migrations.filter((m) => m.version > current);
}
