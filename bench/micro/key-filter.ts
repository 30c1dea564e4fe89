/**
 * The embedded engine's key filter (src/engine/local/key-filter.ts): its
 * false-positive rate and cost with K stored channels (default 100,000), and
 * what it saves in the history store: the time to open a file holding K
 * channels (the filter is filled from it) and lastSeq of a stored channel
 * against one never stored (answered by the filter without SQLite).
 * Usage: npx bun bench/micro/key-filter.ts   (K=stored channels, Q=queries of never-stored keys, default 1,000,000)
 * On Node: npx bun build bench/micro/key-filter.ts --target node --packages external --splitting --outdir .tmp/key-filter && node .tmp/key-filter/key-filter.js
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyFilter } from "../../src/engine/local/key-filter.ts";
import { SqliteHistory, toWriteBatch, type StoredRow } from "../../src/engine/local/sqlite-history.ts";

const K = Number(process.env.K ?? 100_000);
const Q = Number(process.env.Q ?? 1_000_000);
const runtime = typeof Bun !== "undefined" ? `Bun ${Bun.version}` : `Node ${process.version}`;
const stored = (i: number) => `t1/${i % 2 === 0 ? "room" : "user"}:${i.toString(36)}-${i}`;
const never = (i: number) => `t1/user:uq-${i}`;

function nsPer(n: number, fn: () => void): number {
  const t0 = performance.now();
  fn();
  return ((performance.now() - t0) * 1e6) / n;
}

/** Best of three rounds (the first also warms the JIT). */
function best(n: number, fn: () => void): number {
  return Math.min(nsPer(n, fn), nsPer(n, fn), nsPer(n, fn));
}

// The filter alone, on keys built beforehand (flat strings, as the hub's keys are by the time they are looked up).
const storedKeys = Array.from({ length: K }, (_, i) => stored(i));
const neverKeys = Array.from({ length: Q }, (_, i) => never(i));
for (const k of [...storedKeys, ...neverKeys]) k.charCodeAt(0);
const f = new KeyFilter();
const addNs = nsPer(K, () => {
  for (const k of storedKeys) f.add(k);
});
let misses = 0;
let fp = 0;
const hitNs = best(K, () => {
  misses = 0;
  for (const k of storedKeys) if (!f.mayHave(k)) misses++;
});
const missNs = best(Q, () => {
  fp = 0;
  for (const k of neverKeys) if (f.mayHave(k)) fp++;
});
// For comparison: Bun's native hash of the same keys (one call, no filter), where there is one.
let h = 0;
const bunHashNs = typeof Bun === "undefined" ? undefined : best(Q, () => {
  for (const k of neverKeys) h ^= Bun.hash.crc32(k);
});
console.log(`${runtime}: filter ${(f.bytes / 1024).toFixed(0)} KiB (2^${f.bits} bits, ${f.hashes} positions), ${K.toLocaleString("en")} keys (${f.keys.toLocaleString("en")} counted)`);
console.log(`  false negatives ${misses}; false positives ${fp} of ${Q.toLocaleString("en")} never-added keys = ${((fp / Q) * 100).toFixed(5)} % (expected ${(f.falsePositiveRate() * 100).toFixed(5)} %)`);
console.log(
  `  ns per call: add ${addNs.toFixed(0)} (first touch of the bits), mayHave of an added key ${hitNs.toFixed(0)}, of a never-added key ${missNs.toFixed(0)}` +
    (bunHashNs === undefined ? "" : `; Bun.hash.crc32 alone ${bunHashNs.toFixed(0)} (${h & 1})`),
);

// The history store with K stored channels: open (which fills the filter) and lastSeq.
const dir = mkdtempSync(join(tmpdir(), "sb-key-filter-"));
let store = new SqliteHistory(dir);
for (let b = 0; b < K; b += 1000) {
  const rows: StoredRow[] = [];
  const ts = Date.now();
  for (let i = b; i < Math.min(K, b + 1000); i++) rows.push({ key: stored(i), seq: 1 + (i % 7), ts, ttlMs: 86_400_000, tail: `,"ev":"m","data":"x","ts":${ts}}` });
  store.write(toWriteBatch(rows, () => 100));
}
store.close();
const t0 = performance.now();
store = new SqliteHistory(dir);
const openMs = performance.now() - t0;
const L = Math.min(K, 100_000);
let sum = 0;
const readUs = nsPer(L, () => {
  for (let i = 0; i < L; i++) sum += store.lastSeq(storedKeys[i]!);
}) / 1000;
const skipUs = nsPer(L, () => {
  for (let i = 0; i < L; i++) sum += store.lastSeq(neverKeys[i]!);
}) / 1000;
// keyFilter and offsetLookups are absent before the filter: the same script measures the old store.
const stats = (store as { keyFilter?: () => { falsePositiveRate: number } }).keyFilter?.();
const lookups = (store as { offsetLookups?: { read: number; skipped: number } }).offsetLookups;
console.log(`history store with ${K.toLocaleString("en")} channels: open ${openMs.toFixed(1)} ms; lastSeq µs of a stored channel ${readUs.toFixed(2)}, of a never-stored one ${skipUs.toFixed(2)} (checksum ${sum})`);
if (stats && lookups) console.log(`  filter's expected false-positive rate ${(stats.falsePositiveRate * 100).toFixed(5)} %; lookups read ${lookups.read}, skipped ${lookups.skipped}`);
store.close();
rmSync(dir, { recursive: true, force: true });
