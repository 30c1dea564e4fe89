import { SqlStore } from "../sql/sql-store.ts";
import { PostgresDriver } from "./postgres-driver.ts";

export interface PostgresStoreOptions {
  url: string;
  /** A statement or commit slower than this fails with SERVICE_UNAVAILABLE and marks the store down. */
  timeoutMs: number;
  poolSize?: number;
  /** How often an idle node checks that PostgreSQL answers. */
  heartbeatMs?: number;
}

/** The cluster record store: every node shares one PostgreSQL (DATABASE_URL). */
export class PostgresStore extends SqlStore {
  constructor(opts: PostgresStoreOptions) {
    super(new PostgresDriver(opts.url, opts.poolSize), { timeoutMs: opts.timeoutMs, heartbeatMs: opts.heartbeatMs ?? 1000 });
  }
}
