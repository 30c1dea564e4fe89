import postgres from "postgres";
import type { SqlValue } from "../sql/driver.ts";
import { UNREACHABLE_SQLSTATE, type PgClient, type PgOptions, type PgQueryable, type PgResult } from "./pg-client.ts";

type Sql = postgres.Sql;
type Queryable = Pick<Sql, "unsafe">;

/** postgres.js's own connection failures (its socket errors are Node's: ECONNREFUSED, ECONNRESET, …). */
const CONNECTION_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_DESTROYED", "CONNECTION_ENDED", "CONNECT_TIMEOUT"]);

/**
 * Statements with at most this many parameters are prepared (named, kept per
 * connection): the store's fixed statements. Merged multi-row INSERTs and long
 * IN lists (a new text per row count) go unnamed, so the per-connection cache
 * stays a few dozen statements. Prepared, a membership check cost 42–46 µs of
 * client CPU instead of 88–99 (bench/micro/pg-client.ts commit).
 */
const MAX_PREPARED_PARAMS = 32;

function run(q: Queryable, text: string, params: SqlValue[] | undefined): Promise<PgResult> {
  const values = params ?? [];
  // Parameters go untyped: the server infers each from the statement, as it does for Bun.SQL's.
  return q.unsafe(text, values, { prepare: values.length > 0 && values.length <= MAX_PREPARED_PARAMS }) as unknown as Promise<PgResult>;
}

/**
 * The PostgreSQL seam on Node: the `postgres` package (postgres.js 3.4), the
 * client Bun.SQL's API is modelled on, so the driver's calls map one to one:
 * `unsafe` with positional parameters, `begin` with pipelined statements on
 * one connection, `end` with a timeout.
 */
class NodePg implements PgClient {
  constructor(private readonly sql: Sql) {}

  unsafe(text: string, params?: SqlValue[]): Promise<PgResult> {
    return run(this.sql, text, params);
  }

  begin<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> {
    return this.sql.begin((tx) => fn({ unsafe: (text, params) => run(tx, text, params) })) as Promise<T>;
  }

  isUnavailable(err: unknown): boolean {
    const e = err as { name?: string; code?: unknown };
    if (typeof e?.code !== "string") return false;
    // A server error (PostgresError) carries its SQLSTATE in `code`.
    if (e.name === "PostgresError") return UNREACHABLE_SQLSTATE.test(e.code);
    return CONNECTION_CODES.has(e.code) || /^E[A-Z]+$/.test(e.code);
  }

  async close(timeoutSec: number): Promise<void> {
    await this.sql.end({ timeout: timeoutSec });
  }
}

export function openNodePg(url: string, o: PgOptions): PgClient {
  return new NodePg(
    postgres(url, {
      max: o.max,
      connect_timeout: o.connectTimeoutSec,
      idle_timeout: o.idleTimeoutSec,
      // No array columns here: skip the type lookup on every new connection.
      fetch_types: false,
      // postgres.js prints server notices (e.g. "relation already exists, skipping") to the console: stdout carries the JSON log.
      onnotice: () => {},
    }),
  );
}
