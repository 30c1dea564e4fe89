/**
 * The job queue's retention, cluster-wide claim limit and report files, on
 * both record stores, and PostgreSQL's concurrent claims. Registered by
 * store-queue.test.ts on Bun (bun:sqlite, Bun.SQL) and by store-queue.node.ts
 * on Node (better-sqlite3, node-postgres), one suite on both runtimes.
 * Nothing here may need Bun.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobDefinition, Store } from "../../src/store/ports.ts";
import { PostgresStore } from "../../src/store/postgres/postgres-store.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { startPostgres, type PostgresServer } from "../helpers/postgres.ts";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "../helpers/suite.ts";

export const STORE_QUEUE_SUITES = ["job queue: SqliteStore", "job queue: PostgresStore", "job queue on PostgreSQL, many nodes"];

const def = (kind: string, over: Partial<JobDefinition> = {}): JobDefinition => ({
  tenant: "t", name: null, key: null, kind, schedule: JSON.stringify({ at: 0 }), action: "{}", priority: 0, maxAttempts: 3, backoffMs: 10, timeoutMs: 1000, missed: "run", ...over,
});

export function storeQueueSuite(): void {
  // Real PostgreSQL processes are started here.
  setDefaultTimeout(60_000);

  let pg: PostgresServer;
  let seq = 0;
  const dirs: string[] = [];
  const opened: Store[] = [];

  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    for (const s of opened) await s.stop().catch(() => {});
    await pg?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function start(s: Store): Promise<Store> {
    await s.start();
    opened.push(s);
    return s;
  }

  const kinds: [string, () => Promise<Store>][] = [
    ["SqliteStore", async () => {
      const dir = mkdtempSync(join(tmpdir(), "sb-jobq-"));
      dirs.push(dir);
      return start(new SqliteStore(dir));
    }],
    ["PostgresStore", async () => start(new PostgresStore({ url: await pg.createDatabase(`jobq_${process.pid}_${++seq}`), timeoutMs: 2000, poolSize: 4 }))],
  ];

  for (const [name, open] of kinds) {
    describe(`job queue: ${name}`, () => {
      test("purgeFinishedJobs deletes completed and dead jobs finished before the cut, and nothing else", async () => {
        const s = await open();
        for (const id of ["done-old", "dead-old", "done-new", "waiting"]) await s.jobs.createJob(id, def("webhook"), 0, 0);
        const claims = await s.jobs.claimJobs("webhook", "n1", 4, 100, 1000);
        const lease = (id: string) => claims.find((c) => c.job.id === id)!.lease;
        await s.jobs.finishJob("done-old", lease("done-old"), { type: "done", nextRunAtMs: null }, 1000);
        await s.jobs.finishJob("dead-old", lease("dead-old"), { type: "dead", error: "boom", nextRunAtMs: null }, 1000);
        await s.jobs.finishJob("done-new", lease("done-new"), { type: "done", nextRunAtMs: null }, 5000);
        await s.jobs.finishJob("waiting", lease("waiting"), { type: "retry", error: "again", runAtMs: 9000 }, 1000);
        expect(await s.jobs.purgeFinishedJobs(2000)).toBe(2);
        expect((await s.jobs.jobs({ tenant: "t", limit: 10 })).map((j) => j.id).sort()).toEqual(["done-new", "waiting"]);
      });

      test("a cluster limit counts live leases of the kind: claims stop at the limit, an expired lease frees its slot", async () => {
        const s = await open();
        for (let i = 0; i < 6; i++) await s.jobs.createJob(`r${i}`, def("report"), 0, 0);
        await s.jobs.createJob("other", def("publish"), 0, 0);
        expect(await s.jobs.claimJobs("report", "n1", 8, 100, 1000, 2)).toHaveLength(2);
        expect(await s.jobs.claimJobs("report", "n2", 8, 200, 1000, 2)).toHaveLength(0);
        // Another kind is not held back.
        expect(await s.jobs.claimJobs("publish", "n2", 8, 200, 1000, 2)).toHaveLength(1);
        // Both leases ran out (their node died): the two are claimable again, and count as the two running.
        const again = await s.jobs.claimJobs("report", "n3", 8, 2000, 1000, 2);
        expect(again).toHaveLength(2);
        expect(again.every((c) => c.job.attempts === 2)).toBe(true);
      });

      test("report files keep their bytes and are deleted once expired", async () => {
        const s = await open();
        const pdf = new Uint8Array([37, 80, 68, 70, 0, 255, 128, 10]);
        await s.reportFiles.putReportFile({ id: "rf_a", tenant: "t", tokenHash: "h", fileName: "log", pages: 1, pdf, job: "job_1", createdMs: 0, expiresMs: 1000 });
        await s.reportFiles.putReportFile({ id: "rf_b", tenant: "t", tokenHash: "h", fileName: "log", pages: 1, pdf, job: null, createdMs: 0, expiresMs: 5000 });
        expect(await s.reportFiles.reportFile("rf_a")).toEqual({ id: "rf_a", tenant: "t", tokenHash: "h", fileName: "log", pages: 1, pdf, job: "job_1", createdMs: 0, expiresMs: 1000 });
        expect(await s.reportFiles.deleteExpiredReportFiles(2000)).toBe(1);
        expect(await s.reportFiles.reportFile("rf_a")).toBeUndefined();
        expect((await s.reportFiles.reportFile("rf_b"))?.pdf).toEqual(pdf);
      });
    });
  }

  describe("job queue on PostgreSQL, many nodes", () => {
    test("claiming at once never exceeds the cluster limit", async () => {
      const url = await pg.createDatabase(`jobq_race_${process.pid}`);
      const nodes = await Promise.all([0, 1, 2, 3].map(() => start(new PostgresStore({ url, timeoutMs: 2000, poolSize: 4 }))));
      for (let i = 0; i < 40; i++) await nodes[0]!.jobs.createJob(`w${i}`, def("webhook"), 0, 0);
      // Four stores (four pools), five claims each at the same moment, limit 3.
      const claims = (await Promise.all(nodes.flatMap((n, k) => [0, 1, 2, 3, 4].map((c) => n.jobs.claimJobs("webhook", `n${k}.${c}`, 2, 100, 60_000, 3))))).flat();
      expect(claims).toHaveLength(3);
      expect(new Set(claims.map((c) => c.job.id)).size).toBe(3);
    });
  });
}
