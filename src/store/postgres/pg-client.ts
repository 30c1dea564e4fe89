import type { SqlValue } from "../sql/driver.ts";

/**
 * The PostgreSQL client seam: the few calls PostgresDriver makes, filled by
 * Bun's built-in Bun.SQL on Bun and by node-postgres (the `pg` package) on
 * Node; open-pg.ts picks one. Statements use
 * `$n` placeholders.
 */
export type PgResult = Record<string, unknown>[] & { count?: number | null; affectedRows?: number | null };

export interface PgQueryable {
  /** One statement with positional parameters (none: the simple protocol, several statements allowed). */
  unsafe(text: string, params?: SqlValue[]): Promise<PgResult>;
}

export interface PgClient extends PgQueryable {
  /**
   * `fn` inside BEGIN … COMMIT on one pooled connection (ROLLBACK when it
   * throws). Statements started without awaiting each other run in the
   * order started (Bun.SQL pipelines them; node-postgres sends one at a time).
   */
  begin<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T>;
  /** True when `err` means the server cannot be reached (rather than a bad statement). */
  isUnavailable(err: unknown): boolean;
  /** Closes the pool, waiting at most `timeoutSec` for running statements. */
  close(timeoutSec: number): Promise<void>;
}

export interface PgOptions {
  /** Pool size. */
  max: number;
  connectTimeoutSec: number;
  idleTimeoutSec: number;
}

/** SQLSTATE classes that mean the server went away: connection exceptions (08) and shutdowns (57P). */
export const UNREACHABLE_SQLSTATE = /^(08|57P)/;
