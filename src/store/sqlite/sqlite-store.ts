import { SqlStore } from "../sql/sql-store.ts";
import { SqliteDriver } from "./sqlite-driver.ts";

/** The embedded record store: `records.sqlite` in DATA_DIR, nothing to install. */
export class SqliteStore extends SqlStore {
  constructor(dataDir: string) {
    // No timeout: SQLite answers in this process, so a write either commits or throws. A timeout could only
    // fire behind a stalled event loop, and would then answer "nothing was stored" for a write that commits
    // a moment later (seen in the 30-minute soak).
    super(new SqliteDriver(dataDir), { timeoutMs: 0, heartbeatMs: 0 });
  }
}
