/**
 * The PostgreSQL store's suite: the store contract and PostgreSQL's own
 * cases, against real servers this suite starts. Registered by
 * postgres.test.ts on Bun (Bun.SQL) and by postgres.node.ts on Node
 * (node-postgres), one suite on both clients. Nothing here may need Bun.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { SchemaTooNewError } from "../../src/store/migrations.ts";
import type { Store } from "../../src/store/ports.ts";
import { openPg } from "../../src/store/postgres/open-pg.ts";
import { PostgresStore } from "../../src/store/postgres/postgres-store.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "../helpers/suite.ts";
import { storeContract } from "./contract.ts";

export const POSTGRES_SUITES = ["store contract: PostgresStore", "PostgresStore specifics"];

export function postgresSuite(): void {
  // Real PostgreSQL processes are started, stopped and restarted here.
  setDefaultTimeout(60_000);

  let pg: PostgresServer;
  let seq = 0;

  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  const store = (url: string) => new PostgresStore({ url, timeoutMs: 2000, poolSize: 4, heartbeatMs: 200 });

  storeContract("PostgresStore", async () => {
    const url = await pg.createDatabase(`contract_${process.pid}_${++seq}`);
    const opened: Store[] = [];
    const open = async () => {
      const s = store(url);
      await s.start();
      opened.push(s);
      return s;
    };
    return {
      open,
      reopen: open,
      async cleanup() {
        for (const s of opened) await s.stop().catch(() => {});
      },
    };
  });

  describe("PostgresStore specifics", () => {
    test("two nodes starting at once migrate once and share the records", async () => {
      const url = await pg.createDatabase(`twin_${process.pid}`);
      const [a, b] = [store(url), store(url)];
      await Promise.all([a.start(), b.start()]);
      try {
        await a.putConversation("t", "c", { title: null, members: ["ann"] }, 1);
        expect(await b.isMember("t", "c", "ann")).toBe(true);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    test("refuses a database migrated by a newer node", async () => {
      const url = await pg.createDatabase(`future_${process.pid}`);
      const first = store(url);
      await first.start();
      // Through the store's own client seam: Bun.SQL on Bun, node-postgres on Node.
      const sql = openPg(url, { max: 1, connectTimeoutSec: 5, idleTimeoutSec: 5 });
      await sql.unsafe("INSERT INTO schema_migrations VALUES (42, 'from the future', 0)");
      await sql.close(2);
      await first.stop();
      const err = await store(url).start().catch((e) => e);
      expect(err).toBeInstanceOf(SchemaTooNewError);
      expect(err.message).toContain("version 42");
    });

    test("an outage refuses writes with SERVICE_UNAVAILABLE, reports down, and recovers by itself", async () => {
      const own = await startPostgres();
      const s = store(own.url);
      const changes: boolean[] = [];
      s.onAvailability((up) => changes.push(up));
      await s.start();
      try {
        await s.appendMessage("t", "c", { off: 1, ev: "m", data: "1", from: "ann", ts: 1 }, null);
        await own.halt();
        const err = await s.appendMessage("t", "c", { off: 2, ev: "m", data: "2", from: "ann", ts: 2 }, null).catch((e) => e);
        expect(err.code).toBe("SERVICE_UNAVAILABLE");
        expect(s.health().up).toBe(false);
        expect(s.health().detail).toContain("unreachable");
        // while down, writes are refused before they are queued
        expect((await s.setLastSeen("t", "ann", 1).catch((e) => e)).code).toBe("SERVICE_UNAVAILABLE");
        await own.restart();
        while (!s.health().up) await sleep(50);
        await s.appendMessage("t", "c", { off: 3, ev: "m", data: "3", from: "ann", ts: 3 }, null);
        const page = await s.messagesBefore("t", "c", undefined, 10, 0);
        expect(page.messages.map((m) => m.off)).toEqual([1, 3]);
        expect(changes).toEqual([true, false, true]);
      } finally {
        await s.stop();
        await own.stop();
      }
    });

    test("the server shutting down under a stream of small reads and writes costs errors, never the process", async () => {
      // postgres.js 3.4.9 threw from a deferred socket write after such a close (porsager/postgres#1208) and ended the process.
      const own = await startPostgres();
      const s = store(own.url);
      await s.start();
      try {
        await s.putConversation("t", "c", { title: null, members: ["ann"] }, 1);
        let off = 0;
        const codes = new Set<string>();
        for (let round = 0; round < 3; round++) {
          let halted = false;
          const load = Array.from({ length: 32 }, async (_, i) => {
            while (!halted) {
              const op = i % 2 === 0 ? s.isMember("t", "c", "ann") : s.appendMessage("t", "c", { off: ++off, ev: "m", data: "x", from: "ann", ts: off }, null);
              await op.catch((e) => codes.add(String(e?.code)));
              await sleep(0);
            }
          });
          await sleep(100);
          await own.halt();
          halted = true;
          await Promise.all(load);
          await own.restart();
          while (!s.health().up) await sleep(50);
        }
        // Every failure was answered as the store being unreachable, and the store works again afterwards.
        expect([...codes]).toEqual(["SERVICE_UNAVAILABLE"]);
        expect(await s.isMember("t", "c", "ann")).toBe(true);
        await s.appendMessage("t", "c", { off: ++off, ev: "m", data: "after", from: "ann", ts: off }, null);
        expect((await s.messagesBefore("t", "c", undefined, 1, 0)).messages.map((m) => m.data)).toEqual(["after"]);
      } finally {
        await s.stop();
        await own.stop();
      }
    });
  });
}
