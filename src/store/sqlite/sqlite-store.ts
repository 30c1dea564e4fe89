import { SqlStore } from "../sql/sql-store.ts";
import { SqliteDriver } from "./sqlite-driver.ts";

/** The embedded record store: `records.sqlite` in DATA_DIR, nothing to install. */
export class SqliteStore extends SqlStore {
  constructor(dataDir: string) {
    super(new SqliteDriver(dataDir), { timeoutMs: 5000, heartbeatMs: 0 });
  }
}
