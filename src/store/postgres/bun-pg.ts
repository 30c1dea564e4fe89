import { SQL } from "bun";
import type { SqlValue } from "../sql/driver.ts";
import { UNREACHABLE_SQLSTATE, type PgClient, type PgOptions, type PgQueryable, type PgResult } from "./pg-client.ts";

/** The PostgreSQL seam on Bun: Bun.SQL, built in (no package). */
class BunPg implements PgClient {
  constructor(private readonly sql: SQL) {}

  unsafe(text: string, params?: SqlValue[]): Promise<PgResult> {
    return this.sql.unsafe(text, params) as Promise<PgResult>;
  }

  begin<T>(fn: (tx: PgQueryable) => Promise<T>): Promise<T> {
    return this.sql.begin((tx) => fn({ unsafe: (text, params) => tx.unsafe(text, params) as Promise<PgResult> })) as Promise<T>;
  }

  isUnavailable(err: unknown): boolean {
    const e = err as { code?: string; errno?: string };
    // A server error carries its SQLSTATE in `errno`; every other ERR_POSTGRES_* is the connection's.
    if (e?.code === "ERR_POSTGRES_SERVER_ERROR") return typeof e.errno === "string" && UNREACHABLE_SQLSTATE.test(e.errno);
    return typeof e?.code === "string" && e.code.startsWith("ERR_POSTGRES");
  }

  async close(timeoutSec: number): Promise<void> {
    await this.sql.close({ timeout: timeoutSec });
  }
}

export function openBunPg(url: string, o: PgOptions): PgClient {
  return new BunPg(new SQL(url, { max: o.max, connectionTimeout: o.connectTimeoutSec, idleTimeout: o.idleTimeoutSec }));
}
