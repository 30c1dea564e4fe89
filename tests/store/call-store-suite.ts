/**
 * Call records on both stores, registered by call-store.test.ts on Bun and
 * by call-store.node.ts on Node (better-sqlite3, node-postgres). Nothing here
 * may need Bun.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accept } from "../../src/features/calls/call-machine.ts";
import { newCall } from "../../src/features/calls/call-machine.ts";
import type { Store } from "../../src/store/ports.ts";
import { PostgresStore } from "../../src/store/postgres/postgres-store.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { afterAll, beforeAll, describe, expect, test } from "../helpers/suite.ts";

export const CALL_STORE_SUITES = ["call records on SqliteStore", "call records on PostgresStore"];

export function callStoreSuite(): void {
  let pg: PostgresServer;
  const dirs: string[] = [];
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const STORES: { name: string; open(): Promise<Store> }[] = [
    {
      name: "SqliteStore",
      async open() {
        const dir = mkdtempSync(join(tmpdir(), "sb-calls-"));
        dirs.push(dir);
        const s = new SqliteStore(dir);
        await s.start();
        return s;
      },
    },
    {
      name: "PostgresStore",
      async open() {
        const s = new PostgresStore({ url: await pg.createDatabase(`calls_${process.pid}`), timeoutMs: 2000, poolSize: 4, heartbeatMs: 200 });
        await s.start();
        return s;
      },
    },
  ];

  for (const kind of STORES) {
    describe(`call records on ${kind.name}`, () => {
      let store: Store;
      beforeAll(async () => {
        store = await kind.open();
      });
      afterAll(async () => {
        await store?.stop();
      });

      test("a call round-trips; of two writers over the same version exactly one wins", async () => {
        const c = newCall("k1", "doc", ["pat", "ann"], "video", '{"visit":"v1"}', "n1.a-1", 1000, 30_000);
        await store.calls.createCall("t", c);
        expect(await store.calls.call("t", "k1")).toEqual(c);
        expect(await store.calls.call("other-tenant", "k1")).toBeUndefined();
        const a = accept(c, "pat", "n2.b-7", 2000).call;
        const b = accept(c, "ann", "n3.c-9", 2000).call;
        const results = await Promise.all([store.calls.replaceCall("t", a, 1, null), store.calls.replaceCall("t", b, 1, null)]);
        expect(results.filter(Boolean)).toHaveLength(1);
        const stored = (await store.calls.call("t", "k1"))!;
        expect(stored.version).toBe(2);
        expect(stored.state).toBe("live");
        expect(stored.participants.filter((p) => p.state === "joined")).toHaveLength(2);
        expect(await store.calls.replaceCall("t", a, 1, null)).toBe(false);
      });

      test("due calls are those whose next deadline passed; quality aggregates sum, max and min", async () => {
        const c = newCall("k2", "doc", ["pat"], "audio", null, null, 5000, 1000);
        await store.calls.createCall("t", c);
        expect(await store.calls.dueCalls(5999, 10)).toEqual([]);
        expect(await store.calls.dueCalls(6000, 10)).toEqual([{ tenant: "t", id: "k2" }]);
        await Promise.all([
          store.calls.addCallQuality("t", "k2", { rttMs: 30, jitterMs: 2, lossPct: 0, bitrateKbps: 500 }),
          store.calls.addCallQuality("t", "k2", { rttMs: 90, jitterMs: 6, lossPct: 3, bitrateKbps: 300 }),
        ]);
        expect(await store.calls.callQuality("t", "k2")).toEqual({
          samples: 2, rttMsSum: 120, rttMsMax: 90, jitterMsSum: 8, jitterMsMax: 6, lossPctSum: 3, lossPctMax: 3, bitrateKbpsSum: 800, bitrateKbpsMin: 300,
        });
        expect((await store.calls.callsOf("t", "pat", 10)).map((x) => x.id)).toEqual(["k2", "k1"]);
        expect(await store.calls.callsOf("t", "nobody", 10)).toEqual([]);
      });
    });
  }
}
