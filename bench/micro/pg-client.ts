/**
 * The PostgreSQL client seam on both runtimes: the same PostgresStore code
 * on Bun (Bun.SQL) and on Node (node-postgres), against one PostgreSQL started
 * here, a fresh database per run, runtimes alternated round by round.
 *  - writes: W chat messages appended 200 per loop turn (the store merges a
 *    turn's one-row INSERTs and commits them in one transaction), awaited
 *    wave by wave: rows/s;
 *  - reads: R membership checks and 10-message pages, 32 in flight: queries/s
 *    and the client process's CPU per query.
 * Usage: node_modules/.bin/bun bench/micro/pg-client.ts   (ROUNDS=3, W=20000, R=20000)
 */
import "../../src/runtime/polyfills.ts";
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { PostgresStore } from "../../src/store/postgres/postgres-store.ts";

const W = Number(process.env.W ?? 20_000);
const R = Number(process.env.R ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const runtime = typeof Bun !== "undefined" ? "bun" : "node";

async function measure(url: string): Promise<{ writesPerSec: number; readsPerSec: number; readCpuUsPerQuery: number }> {
  const store = new PostgresStore({ url, timeoutMs: 30_000, poolSize: 10 });
  await store.start();
  await store.putConversation("t", "c", { title: null, members: ["ann", "bob"] }, 1);
  let t0 = performance.now();
  for (let off = 1; off <= W; off += 200) {
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.appendMessage("t", "c", { off: off + i, ev: "message", data: `{"text":"m${off + i}"}`, from: "ann", ts: Date.now() }, null)));
  }
  const writesPerSec = (W / (performance.now() - t0)) * 1000;
  t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < R) {
        const i = next++;
        if (i % 2 === 0) await store.isMember("t", "c", "ann");
        else await store.messagesBefore("t", "c", 1 + (i % W), 10, 0);
      }
    }),
  );
  const readsPerSec = (R / (performance.now() - t0)) * 1000;
  const cpu = process.cpuUsage(cpu0);
  await store.stop();
  return { writesPerSec, readsPerSec, readCpuUsPerQuery: (cpu.user + cpu.system) / R };
}

if (process.env.PG_BENCH_URL) {
  // One measured run, in the runtime that runs this file (or its Node bundle).
  process.stdout.write(JSON.stringify({ runtime, ...(await measure(process.env.PG_BENCH_URL)) }) + "\n");
  process.exit(0);
}

const { startPostgres } = await import("../../tests/helpers/postgres.ts");
const ROOT = resolve(import.meta.dir, "../..");
const out = join(ROOT, ".tmp", `pg-client-bench-${process.pid}`);
mkdirSync(out, { recursive: true });
const built = await Bun.build({ entrypoints: [import.meta.path], target: "node", format: "esm", splitting: true, packages: "external", outdir: out, naming: { entry: "[name].[ext]" } });
if (!built.success) throw new Error(built.logs.map(String).join("\n"));
const pg = await startPostgres();
try {
  let n = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const rt of round % 2 ? ["bun", "node"] : ["node", "bun"]) {
      const url = await pg.createDatabase(`bench_${++n}`);
      const cmd = rt === "bun" ? [process.execPath, import.meta.path] : ["node", join(out, "pg-client.js")];
      const p = Bun.spawn(cmd, { env: { ...process.env, PG_BENCH_URL: url }, stdout: "pipe", stderr: "inherit" });
      const r = JSON.parse((await new Response(p.stdout).text()).trim()) as { runtime: string; writesPerSec: number; readsPerSec: number; readCpuUsPerQuery: number };
      console.log(`round ${round} ${r.runtime.padEnd(4)} (${r.runtime === "bun" ? "Bun.SQL" : "node-postgres"}): ${Math.round(r.writesPerSec).toLocaleString("en")} appended rows/s, ${Math.round(r.readsPerSec).toLocaleString("en")} reads/s (${r.readCpuUsPerQuery.toFixed(0)} µs client CPU per read)`);
    }
  }
} finally {
  await pg.stop();
  rmSync(out, { recursive: true, force: true });
}
