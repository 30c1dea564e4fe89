/**
 * Preloaded into a Bun server by bench/micro/conn-memory.ts (`--preload`):
 * on SIGUSR2 it writes the process's JS heap figures before and after a full
 * collection, and the most numerous JavaScriptCore object types, to
 * `<tmpdir>/conn-probe-<pid>.<n>.json` (n counts the signals). Used for
 * Switchboard and for the bench peers alike, so both are read the same way
 * (the peers get no environment from the bench, hence the pid in the name).
 */
import { heapStats } from "bun:jsc";
import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const out = join(tmpdir(), `conn-probe-${process.pid}`);
let n = 0;

function status(): Record<string, number> {
  const s = readFileSync("/proc/self/status", "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), rssAnon: kb("RssAnon"), rssFile: kb("RssFile") };
}

function heap() {
  const h = heapStats();
  return { heapSize: h.heapSize, heapCapacity: h.heapCapacity, extraMemorySize: h.extraMemorySize, objectCount: h.objectCount, protectedObjectCount: h.protectedObjectCount };
}

/** Resident kB of every mapping (by start address), to see which allocator's regions grew. */
function mappings(): Record<string, [number, number, string]> {
  const out: Record<string, [number, number, string]> = {};
  let cur = "";
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      cur = m[1]!;
      out[cur] = [Math.round((parseInt(m[2]!, 16) - parseInt(m[1]!, 16)) / 1024), 0, m[3]!];
    } else if (line.startsWith("Rss:") && cur) out[cur]![1] = Number(/(\d+)/.exec(line)![1]);
  }
  return out;
}

process.on("SIGUSR2", () => {
  const before = { ...status(), ...heap() };
  Bun.gc(true);
  const afterGc = { ...status(), ...heap() };
  const types = heapStats().objectTypeCounts;
  writeFileSync(`${out}.${n++}.json`, JSON.stringify({ before, afterGc, types, maps: mappings() }));
});
