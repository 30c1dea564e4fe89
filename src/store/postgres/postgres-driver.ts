import { LATEST_SCHEMA, SchemaTooNewError, type Migration } from "../migrations.ts";
import { pendingMigrations, type SqlDriver, type SqlStatement, type SqlValue } from "../sql/driver.ts";
import { openPg } from "./open-pg.ts";
import type { PgClient } from "./pg-client.ts";

/** Any constant: the advisory lock that makes concurrent node start-ups migrate one at a time. */
const MIGRATION_LOCK = 73_265_419;

/**
 * PostgreSQL through the client seam (pg-client.ts: Bun.SQL on Bun,
 * node-postgres on Node): a small pool, `?` placeholders rewritten to `$n`
 * once per statement text. Statements of a transaction are started without
 * waiting for each answer (Bun.SQL pipelines them on the transaction's
 * connection; node-postgres sends them one after another).
 */
export class PostgresDriver implements SqlDriver {
  readonly kind = "postgres" as const;
  private readonly sql: PgClient;
  private readonly texts = new Map<string, string>();

  constructor(private readonly url: string, poolSize = 10) {
    this.sql = openPg(url, { max: poolSize, connectTimeoutSec: 5, idleTimeoutSec: 60 });
  }

  private text(sql: string): string {
    let t = this.texts.get(sql);
    if (t === undefined) {
      let n = 0;
      t = sql.replace(/\?/g, () => "$" + ++n);
      this.texts.set(sql, t);
    }
    return t;
  }

  async open(migrations: readonly Migration[]): Promise<number> {
    return this.sql.begin(async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
      await tx.unsafe("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)");
      const rows = (await tx.unsafe("SELECT max(version) AS v FROM schema_migrations")) as { v: number | null }[];
      const current = Number(rows[0]?.v ?? 0);
      if (current > LATEST_SCHEMA) throw new SchemaTooNewError(current, LATEST_SCHEMA);
      for (const m of pendingMigrations(migrations, current)) {
        for (const s of m.statements) await tx.unsafe(s);
        await tx.unsafe("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)", [m.version, m.name, Date.now()]);
      }
      return Math.max(current, ...migrations.map((m) => m.version));
    });
  }

  async query<T>(sql: string, params: SqlValue[]): Promise<T[]> {
    return [...((await this.sql.unsafe(this.text(sql), params)) as T[])];
  }

  async run(sql: string, params: SqlValue[]): Promise<number> {
    const r = (await this.sql.unsafe(this.text(sql), params)) as { count?: number; affectedRows?: number };
    return Number(r.affectedRows ?? r.count ?? 0);
  }

  /** One statement is atomic on its own: no BEGIN/COMMIT round trips (0.15 ms instead of 1.4 ms and more). */
  async transaction(statements: readonly SqlStatement[]): Promise<void> {
    if (statements.length === 1) {
      await this.sql.unsafe(this.text(statements[0]!.sql), statements[0]!.params);
      return;
    }
    await this.sql.begin((tx) => Promise.all(statements.map((s) => tx.unsafe(this.text(s.sql), s.params))));
  }

  async locked<T>(lock: string, sql: string, params: SqlValue[]): Promise<T[]> {
    // Two statements: a snapshot taken before the lock was granted would miss the previous holder's commit.
    return this.sql.begin(async (tx) => {
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1))", [lock]);
      return [...((await tx.unsafe(this.text(sql), params)) as T[])];
    });
  }

  async ping(): Promise<void> {
    await this.sql.unsafe("SELECT 1");
  }

  isUnavailable(err: unknown): boolean {
    // A server error with an SQLSTATE is the statement's fault, except connection (08) and shutdown (57P) classes.
    return this.sql.isUnavailable(err);
  }

  describe(): string {
    try {
      const u = new URL(this.url);
      return `postgres://${u.host}${u.pathname}`;
    } catch {
      return "postgres";
    }
  }

  async close(): Promise<void> {
    await this.sql.close(2);
  }
}
