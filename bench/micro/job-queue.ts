/**
 * Claim + complete throughput of the store-backed job queue: N due jobs,
 * W concurrent workers each claiming batches of B and finishing every claim
 * (what the runner does, without the actions). SQLite in a temp dir, and
 * PostgreSQL started here (initdb) with W workers as if on W nodes.
 * Usage: node_modules/.bin/bun bench/micro/job-queue.ts   (N=jobs, default 5000; W=workers, default 3; B=batch, default 8)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PostgresStore } from "../../src/store/postgres/postgres-store.ts";
import type { JobStore, Store } from "../../src/store/ports.ts";
import { SqliteStore } from "../../src/store/sqlite/sqlite-store.ts";
import { startPostgres } from "../../tests/helpers/postgres.ts";

const N = Number(process.env.N ?? 5000);
const W = Number(process.env.W ?? 3);
const B = Number(process.env.B ?? 8);

async function fill(q: JobStore, now: number): Promise<void> {
  for (let i = 0; i < N; i++) {
    await q.createJob(`job_b${i.toString(36)}`, { tenant: "", name: null, key: null, kind: "publish", schedule: JSON.stringify({ at: now }), action: "{}", priority: i % 7, maxAttempts: 3, backoffMs: 1000, timeoutMs: 5000, missed: "run" }, now, now);
  }
}

async function drain(q: JobStore, workers: number): Promise<{ ms: number; runs: number; dupes: number }> {
  const seen = new Set<string>();
  let dupes = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (;;) {
        const claims = await q.claimJobs("publish", `w${w}`, B, Date.now(), 30_000);
        if (claims.length === 0) return;
        await Promise.all(
          claims.map(async (c) => {
            if (seen.has(c.job.id)) dupes++;
            seen.add(c.job.id);
            await q.finishJob(c.job.id, c.lease, { type: "done", nextRunAtMs: null }, Date.now());
          }),
        );
      }
    }),
  );
  return { ms: performance.now() - t0, runs: seen.size, dupes };
}

async function measure(name: string, store: Store, workers: number): Promise<void> {
  await store.start();
  await fill(store.jobs, Date.now());
  const r = await drain(store.jobs, workers);
  console.log(`${name}: ${r.runs} jobs claimed+completed by ${workers} worker(s) in ${r.ms.toFixed(0)} ms = ${Math.round((r.runs / r.ms) * 1000)} jobs/s (duplicates: ${r.dupes})`);
  await store.stop();
}

const dir = mkdtempSync(join(tmpdir(), "sb-bench-jobs-"));
try {
  await measure("sqlite", new SqliteStore(dir), 1);
  const pg = await startPostgres();
  try {
    await measure("postgres", new PostgresStore({ url: await pg.createDatabase("b1"), timeoutMs: 10_000 }), 1);
    await measure("postgres", new PostgresStore({ url: await pg.createDatabase("b2"), timeoutMs: 10_000 }), W);
  } finally {
    await pg.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
