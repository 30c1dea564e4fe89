import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LATEST_SCHEMA, MIGRATIONS, SchemaTooNewError } from "../../src/store/migrations.ts";
import { SqliteDriver } from "../../src/store/sqlite/sqlite-driver.ts";
import type { Store } from "../../src/store/ports.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { onNode } from "../helpers/on-node.ts";
import { sqliteContract } from "./sqlite-contract.ts";

sqliteContract();
// The same contract on Node (tests/store/sqlite.node.ts: better-sqlite3), checked here case by case.
onNode("store contract: SqliteStore", "tests/store/sqlite.node.ts");

describe("SqliteStore specifics", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  test("a database of an older version is migrated on start and keeps its records", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-store-"));
    dirs.push(dir);
    const old = new SqliteDriver(dir);
    expect(await old.open(MIGRATIONS.slice(0, 1))).toBe(1);
    await old.run("INSERT INTO last_seen (tenant, user_id, seen_ms) VALUES ('t', 'ann', 7)", []);
    await old.close();
    const s = new SqliteStore(dir);
    await s.start();
    try {
      expect(s.health().schema).toBe(LATEST_SCHEMA);
      expect(await s.lastSeen("t", ["ann"])).toEqual(new Map([["ann", 7]]));
      await s.setStatus("t", "ann", "away", null, 1);
      expect((await s.statuses("t", ["ann"])).get("ann")?.status).toBe("away");
    } finally {
      await s.stop();
    }
  });

  test("refuses a database migrated by a newer node, naming both versions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sb-store-"));
    dirs.push(dir);
    const first = new SqliteStore(dir);
    await first.start();
    await first.stop();
    const db = new Database(join(dir, "records.sqlite"));
    db.exec("INSERT INTO schema_migrations VALUES (999, 'from the future', 0)");
    db.close();
    const err = await new SqliteStore(dir).start().catch((e) => e);
    expect(err).toBeInstanceOf(SchemaTooNewError);
    expect(err.message).toContain(`database schema is version 999, this node knows up to ${LATEST_SCHEMA}`);
  });
});
