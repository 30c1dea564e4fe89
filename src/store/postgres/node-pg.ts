import pg from "pg";
import type { SqlValue } from "../sql/driver.ts";
import { UNREACHABLE_SQLSTATE, type PgClient, type PgOptions, type PgQueryable, type PgResult } from "./pg-client.ts";

/**
 * Statements with at most this many parameters are prepared (named, kept per
 * connection): the store's fixed statements. Merged multi-row INSERTs and long
 * IN lists (a new text per row count) go unnamed, so the per-connection cache
 * stays a few dozen statements.
 */
const MAX_PREPARED_PARAMS = 32;

/**
 * node-postgres's own connection failures carry no code, only a message:
 * a socket that ended, a connect that timed out, a client or pool that is
 * no longer usable. Socket errors carry Node's (ECONNREFUSED, ECONNRESET, …).
 */
const CONNECTION_MESSAGE = /Connection terminated|connection timeout|timeout exceeded when trying to connect|not queryable|Cannot use a pool after calling end/i;

/** A name per prepared statement text: `s<n>`, the same on every connection. */
const names = new Map<string, string>();

function config(text: string, params: SqlValue[] | undefined): pg.QueryConfig {
  const values = params ?? [];
  if (values.length === 0 || values.length > MAX_PREPARED_PARAMS) return { text, values };
  let name = names.get(text);
  if (name === undefined) names.set(text, (name = "s" + names.size));
  return { name, text, values };
}

function result(r: pg.QueryResult | pg.QueryResult[]): PgResult {
  // Several statements in one text (the simple protocol) answer one result each: the last one speaks.
  const last = Array.isArray(r) ? r[r.length - 1]! : r;
  const rows = last.rows as PgResult;
  rows.count = last.rowCount;
  return rows;
}

async function run(q: pg.Pool | pg.PoolClient, text: string, params: SqlValue[] | undefined): Promise<PgResult> {
  // Parameters go untyped: the server infers each from the statement, as it does for Bun.SQL's.
  return result(await q.query(config(text, params) as pg.QueryConfig<SqlValue[]>));
}

/** Ignores what it is given: the error reaches the statement that was waiting, or nobody was. */
const swallow = (): void => {};

/**
 * The PostgreSQL seam on Node: node-postgres (`pg` 8), a pool of clients.
 * A transaction checks one client out, runs BEGIN, the caller's statements
 * (one after another, in the order they were started) and COMMIT, or
 * ROLLBACK when anything throws; a client that failed is destroyed, not
 * returned to the pool. While checked out, a client's connection error has
 * a listener here: node-postgres emits it as an `error` event, which would
 * otherwise end the process.
 */
class NodePg implements PgClient {
  constructor(private readonly pool: pg.Pool) {
    // An idle client's connection error (the server went away): the pool drops that client; nothing to answer.
    pool.on("error", swallow);
  }

  unsafe(text: string, params?: SqlValue[]): Promise<PgResult> {
    return run(this.pool, text, params);
  }

  async begin<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> {
    const client = await this.checkout();
    let failure: Error | undefined;
    try {
      await client.query("BEGIN");
      // One statement at a time on the client, in the order they were started (node-postgres does not pipeline).
      let tail: Promise<unknown> = Promise.resolve();
      const out = await fn({
        unsafe: (text, params) => {
          const p = tail.then(() => run(client, text, params));
          tail = p.catch(swallow);
          return p;
        },
      });
      await tail;
      await client.query("COMMIT");
      return out;
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
      await client.query("ROLLBACK").catch(swallow);
      throw err;
    } finally {
      client.removeListener("error", swallow);
      // A failed connection must not serve the next caller: release(err) destroys it. A statement's error keeps it.
      client.release(failure && this.isUnavailable(failure) ? failure : undefined);
    }
  }

  /**
   * A client with an `error` listener already on it. The listener goes on
   * inside the pool's callback: the pool hands a client over while it reads
   * another statement's answer, and when the same packet goes on with the
   * server's "terminating connection" (57P01), that error is emitted before
   * any promise continuation could add a listener, ending the process.
   */
  private checkout(): Promise<pg.PoolClient> {
    return new Promise((resolve, reject) => {
      this.pool.connect((err, client) => {
        if (err || !client) return reject(err ?? new Error("the pool gave no client"));
        client.on("error", swallow);
        resolve(client);
      });
    });
  }

  isUnavailable(err: unknown): boolean {
    const e = err as { code?: unknown; message?: unknown };
    if (e instanceof pg.DatabaseError) return typeof e.code === "string" && UNREACHABLE_SQLSTATE.test(e.code);
    if (typeof e?.code === "string" && /^E[A-Z]+$/.test(e.code)) return true;
    return typeof e?.message === "string" && CONNECTION_MESSAGE.test(e.message);
  }

  async close(timeoutSec: number): Promise<void> {
    // pool.end waits for checked-out clients; bound it as the other seam does.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.pool.end(), new Promise<void>((r) => (timer = setTimeout(r, timeoutSec * 1000)))]).finally(() => clearTimeout(timer));
  }
}

export function openNodePg(url: string, o: PgOptions): PgClient {
  return new NodePg(
    new pg.Pool({
      connectionString: url,
      max: o.max,
      connectionTimeoutMillis: o.connectTimeoutSec * 1000,
      idleTimeoutMillis: o.idleTimeoutSec * 1000,
    }),
  );
}
