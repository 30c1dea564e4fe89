/**
 * Memory per idle authenticated connection (2 subscriptions), split into what
 * the `connect` bench's one figure mixes: one-time warm-up of a fresh server
 * (code paths run for the first time, pools, caches) and the marginal cost of
 * each further connection; resident memory split into anonymous and
 * file-backed pages; the JS heap before and after a full collection and the
 * JavaScriptCore object types that grow with the connections (read inside
 * the server by bench/micro/conn-probe.ts, preloaded into every Bun target).
 *
 * Per round and target: start a fresh server, read it; open WARM connections
 * (held), read; open N more, read 1 s after the last subscription (as the
 * bench does); then the probe. Targets alternate within a round. On a loaded
 * machine one target's figure moves by ±0.4 KiB from run to run (when the
 * collector ran relative to the burst decides how much freed memory is still
 * resident): compare medians of alternated rounds.
 *
 * Usage: npx bun bench/micro/conn-memory.ts [--targets switchboard,bun-raw,peer:auth+data] [--n 15000] [--warm 1000] [--rounds 2] [--workers 2]
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { sleep } from "../lib/clock.ts";
import { BUN, freePort, rssBytes, spawnTracked, stopAll } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import { authFor, soon, spread } from "../scenarios/common.ts";
import { BENCH_SECRET, targets, type ServerNode, type Target, type TargetName } from "../targets.ts";

const { values: a } = parseArgs({
  options: {
    targets: { type: "string", default: "switchboard,bun-raw" },
    n: { type: "string", default: "15000" },
    warm: { type: "string", default: "1000" },
    rounds: { type: "string", default: "2" },
    workers: { type: "string", default: "2" },
  },
});
const N = Number(a.n);
const WARM = Number(a.warm);
const WORKERS = Number(a.workers);
/** `peer:<part>+<part>` runs bench/micro/conn-peer.ts with those parts (see there; `peer:` alone has none); other names are bench targets. */
const names = a.targets!.split(",");

function targetOf(name: string): Target {
  if (!name.startsWith("peer:")) return targets[name as TargetName];
  return {
    ...targets.switchboard,
    name: name as TargetName,
    async start() {
      const port = await freePort();
      const flags = (process.env.BENCH_SERVER_FLAGS ?? "").split(/\s+/).filter(Boolean);
      const t = spawnTracked(name, [BUN, ...flags, "bench/micro/conn-peer.ts"], { PORT: String(port), PARTS: name.slice(5).split("+").join(","), JWT_SECRET: BENCH_SECRET });
      for (let i = 0; i < 200; i++) {
        const ok = await fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.ok, () => false);
        if (ok) break;
        await sleep(50);
      }
      return [{ name, port, pid: t.pid, rss: () => rssBytes(t.pid), stop: () => t.stop() }];
    },
  };
}

// Bun targets read BENCH_SERVER_FLAGS (bench/targets.ts): the probe goes in beside any flags already there.
process.env.BENCH_SERVER_FLAGS = `${process.env.BENCH_SERVER_FLAGS ?? ""} --preload ./bench/micro/conn-probe.ts`.trim();

interface Mem {
  rss: number;
  rssAnon: number;
  rssFile: number;
}

function mem(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), rssAnon: kb("RssAnon"), rssFile: kb("RssFile") };
}

/** Opens `n` connections (2 subscriptions each) from WORKERS load processes; resolves once all are subscribed. */
async function connectSet(name: string, srv: ServerNode, tag: string, n: number): Promise<{ workers: LoadWorker[]; perSec: number; failed: number }> {
  const t = targetOf(name);
  const workers = spread(n, WORKERS).map((k, i) =>
    LoadWorker.start(`${tag}-w${i}`, { kind: "connect", dialect: t.dialect, ep: { host: "127.0.0.1", port: srv.port }, auth: authFor(t, `${tag}${i}`), users: `${tag}${i}-`, n: k, ch: "room:idle", concurrency: 128 }),
  );
  await Promise.all(workers.map((w) => w.waitFor("prepared", 60_000)));
  await sleep(300);
  workers.forEach((w) => w.send({ cmd: "go", startAt: soon(100) }));
  const ready = await Promise.all(workers.map((w) => w.waitFor("ready", 180_000)));
  const from = Math.min(...ready.map((r) => r.connectFrom));
  const to = Math.max(...ready.map((r) => r.connectTo));
  const failed = ready.reduce((s, r) => s + r.connectFailed + r.subFailed, 0);
  return { workers, perSec: Math.round(n / ((to - from) / 1000)), failed };
}

function typeGrowth(a: Record<string, number>, b: Record<string, number>, conns: number): string {
  return Object.entries(b)
    .map(([k, v]) => [k, ((v - (a[k] ?? 0)) * 1000) / conns] as const)
    .filter(([, d]) => Math.abs(d) >= 50)
    .sort((x, y) => y[1] - x[1])
    .map(([k, d]) => `${k}:${Math.round(d)}`)
    .join(" ");
}

const kib = (b: number) => (b / 1024).toFixed(2);

async function measure(name: string): Promise<Record<string, unknown>> {
  const t = targetOf(name);
  const [srv] = await t.start({ nodes: 1 });
  const all: LoadWorker[] = [];
  try {
    await sleep(500);
    const p0 = await probe(srv!.pid, 0);
    const fresh = mem(srv!.pid);
    let warm = fresh;
    if (WARM > 0) {
      const w = await connectSet(name, srv!, "w", WARM);
      all.push(...w.workers);
      await sleep(1000);
      warm = mem(srv!.pid);
    }
    const m = await connectSet(name, srv!, "m", N);
    all.push(...m.workers);
    await sleep(1000);
    const loaded = mem(srv!.pid);
    const p = await probe(srv!.pid, 1);
    const total = N + WARM;
    const row = {
      target: name,
      connectsPerSec: m.perSec,
      failed: m.failed,
      // The N connections' VmRSS growth, each (after the warm-up set when there is one).
      perConnKiB: kib((loaded.rss - warm.rss) / N),
      // As the connect bench computes it: all growth from the fresh server, one-time warm-up included.
      fromFreshKiB: kib((loaded.rss - fresh.rss) / (N + WARM)),
      warmupMiB: ((warm.rss - fresh.rss) / 1048576).toFixed(1),
      marginalAnonKiB: kib((loaded.rssAnon - warm.rssAnon) / N),
      marginalFileKiB: kib((loaded.rssFile - warm.rssFile) / N),
      // Heap figures: growth from the fresh server (after a collection at both ends) per connection.
      heapPerConnB: p && p0 ? Math.round((p.afterGc.heapSize! - p0.afterGc.heapSize!) / total) : undefined,
      heapCapacityPerConnB: p && p0 ? Math.round((p.afterGc.heapCapacity! - p0.afterGc.heapCapacity!) / total) : undefined,
      extraMemoryPerConnB: p && p0 ? Math.round((p.afterGc.extraMemorySize! - p0.afterGc.extraMemorySize!) / total) : undefined,
      protectedPer1000: p && p0 ? Math.round(((p.afterGc.protectedObjectCount! - p0.afterGc.protectedObjectCount!) * 1000) / total) : undefined,
      rssAfterProbeGcKiB: p ? kib((p.afterGc.rss! - warm.rss) / N) : undefined,
      // Object types that grew, per 1,000 connections.
      typesPer1000: p && p0 ? typeGrowth(p0.types, p.types, total) : undefined,
      // Mappings whose resident size grew by ≥ 1 MiB: "size kB:growth kB name".
      grownMaps: p && p0 ? mapGrowth(p0.maps, p.maps) : undefined,
    };
    return row;
  } finally {
    for (const w of all) w.send({ cmd: "stop" });
    await Promise.all(all.map((w) => w.waitFor("result", 30_000).catch(() => undefined)));
    await srv!.stop();
  }
}

interface Probe {
  before: Record<string, number>;
  afterGc: Record<string, number>;
  types: Record<string, number>;
  maps: Record<string, [number, number, string]>;
}

function mapGrowth(a: Probe["maps"], b: Probe["maps"]): string {
  return Object.entries(b)
    .map(([start, [size, rss, name]]) => [size, rss - (a[start]?.[1] ?? 0), name || "anon", !a[start]] as const)
    .filter(([, d]) => d >= 1024)
    .sort((x, y) => y[1] - x[1])
    .map(([size, d, name, fresh]) => `${size}:${d}${fresh ? "(new)" : ""}:${name}`)
    .join(" ");
}

/** Asks the server's preloaded probe for its heap figures (it collects garbage first). */
async function probe(pid: number, i: number): Promise<Probe | undefined> {
  const file = join(tmpdir(), `conn-probe-${pid}.${i}.json`);
  process.kill(pid, "SIGUSR2");
  for (let k = 0; k < 100; k++) {
    await sleep(100);
    try {
      const p = JSON.parse(readFileSync(file, "utf8"));
      rmSync(file, { force: true });
      return p;
    } catch {
      // not written yet
    }
  }
  return undefined;
}

try {
  for (let r = 0; r < Number(a.rounds); r++) {
    for (const name of names) {
      const row = await measure(name);
      console.log(JSON.stringify({ round: r + 1, ...row, load: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ") }));
    }
  }
} finally {
  await stopAll();
}
