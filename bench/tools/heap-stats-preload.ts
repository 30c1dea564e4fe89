/**
 * Preload for a Bun server under a bench run (BENCH_SERVER_FLAGS="--preload
 * ./bench/tools/heap-stats-preload.ts"): once a second, a full collection and
 * then JSC's heap statistics (live heap size and object counts by type) into
 * $HEAP_STATS_DIR/heap-<pid>-<n>.json. The collection perturbs the run; use it
 * to see what each connection holds, not for the bench's own figures.
 */
import { heapStats } from "bun:jsc";
import { writeFileSync } from "node:fs";

// The bench starts servers with an environment of its own: the directory is fixed, under the working directory.
const dir = ".tmp/heap-stats";
let n = 0;
setInterval(() => {
  Bun.gc(true);
  const h = heapStats();
  writeFileSync(`${dir}/heap-${process.pid}-${n++ % 100}.json`, JSON.stringify({ t: Date.now(), rss: process.memoryUsage().rss, heapSize: h.heapSize, objectCount: h.objectCount, counts: h.objectTypeCounts }));
}, 1000).unref();
