import { Database } from "bun:sqlite";
import { LATEST_SCHEMA } from "../../src/store/migrations.ts";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SchemaTooNewError } from "../../src/store/migrations.ts";
import type { Store } from "../../src/store/ports.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { storeContract } from "./contract.ts";

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

describe("SqliteStore specifics", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test("refuses a database migrated by a newer node, naming both versions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-store-"));
    dirs.push(dir);
    const first = new SqliteStore(dir);
    await first.start();
    await first.stop();
    const db = new Database(join(dir, "records.sqlite"));
    db.exec("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)");
    db.close();
    const err = await new SqliteStore(dir).start().catch((e) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect(err.message).toContain(`database schema is version 99, this node knows up to ${LATEST_SCHEMA}`);
  });
});
