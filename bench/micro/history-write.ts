/**
 * Cost of the embedded engine's history write per message, by batch size
 * (messages per event-loop turn): one transaction per batch, as the engine
 * writes them. Usage: node_modules/.bin/bun bench/micro/history-write.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteHistory, toWriteBatch, type StoredRow } from "../../src/engine/local/sqlite-history.ts";

for (const batch of [1, 5, 480]) {
  const dir = mkdtempSync(join(tmpdir(), "sb-history-write-"));
  const store = new SqliteHistory(dir);
  const total = batch === 480 ? 96_000 : 20_000;
  let seq = 0;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < total; i += batch) {
    const rows: StoredRow[] = [];
    for (let k = 0; k < batch; k++) {
      seq++;
      const ts = Date.now();
      rows.push({ key: "t/room:bench", seq, ts, ttlMs: 86_400_000, tail: `,"ev":"m","data":"hello from 12 #${seq}","from":"uchat12-3","ts":${ts}}` });
    }
    store.write(toWriteBatch(rows, () => 100));
  }
  const cpu = process.cpuUsage(c0);
  const wall = ((performance.now() - t0) * 1000) / total;
  console.log(`${String(batch).padStart(3)} per batch: ${wall.toFixed(2)} µs/message wall, ${((cpu.user + cpu.system) / total).toFixed(2)} µs CPU (system ${(cpu.system / total).toFixed(2)})`);
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
