/**
 * The store contract on SqliteStore, registered by sqlite.test.ts on Bun
 * (bun:sqlite) and by sqlite.node.ts on Node (better-sqlite3). Nothing here
 * may need Bun.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../../src/store/ports.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { storeContract } from "./contract.ts";

export function sqliteContract(): void {
  storeContract("SqliteStore", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-store-"));
    const opened: Store[] = [];
    const open = async () => {
      const s = new SqliteStore(dir);
      await s.start();
      opened.push(s);
      return s;
    };
    return {
      open,
      reopen: open,
      async cleanup() {
        for (const s of opened) await s.stop().catch(() => {});
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
