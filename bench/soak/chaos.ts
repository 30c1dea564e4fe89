/**
 * The chaos suite of tests/chaos with a soak budget, same checks (nothing
 * acknowledged lost, nothing duplicated, reordered or silently skipped,
 * nothing errored delivered; node fds back to baseline).
 *
 * Budget mode (default): SOAK_MESSAGES publications (1,000,000).
 * Churn mode (SOAK_MINUTES set): runs that long with faults every 40–120 s
 * (Redis SIGSTOP/SIGKILL, client drops; only chaos-2 is SIGKILLed, so the
 * other two nodes' slopes span the whole run), paced SDK publishers, and
 * SOAK_CONNECTIONS (15,000) churning WebSocket clients in SOAK_PROCS (5)
 * processes from 127.0.0.10… source addresses, each closing after a random
 * life and resubscribing with `since` recovery. Every 30 s it samples RSS
 * and fds of every node and reports their slope per 10 minutes (least
 * squares over the longest-lived process of each node, after the ramp).
 *
 * Usage: node_modules/.bin/bun bench/soak/chaos.ts
 *   SOAK_SEED (random), SOAK_CHANNELS (200), SOAK_SUBSCRIBERS (30; 9 in churn mode)
 *   SOAK_MINUTES, SOAK_CONNECTIONS, SOAK_PROCS, SOAK_PACE_MS (200), SOAK_LIFE_SEC ("30-180"), SOAK_RAMP_SEC (120), SOAK_FAULT_SEC ("40-120"), SOAK_FINAL_REDIS_KILL (1 = one more Redis SIGKILL just before the end)
 *   SOAK_LOG_DIR (keep each node process's log there), SOAK_LOG_LEVEL (warn)
 *   SOAK_PRESENCE_TTL_SEC (churn mode: 15, the server's default; the CI suite's 3 s makes every
 *   connection refresh its lease each second: 15,000 lease writes a second on an appendfsync-always Redis)
 */
import { redisInfo, runChaos } from "../../tests/chaos/run.ts";
import { footprint, type ChaosCluster } from "../../tests/chaos/cluster.ts";
import { ChurnLoad, type ChurnTally } from "./churn.ts";

const env = process.env;
const seed = Number(env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
const channels = Number(env.SOAK_CHANNELS ?? 200);
const minutes = env.SOAK_MINUTES === undefined ? undefined : Number(env.SOAK_MINUTES);
const churnMode = minutes !== undefined;
const subscribers = Number(env.SOAK_SUBSCRIBERS ?? (churnMode ? 9 : 30));
const log = (l: string) => console.log(l);

interface Sample {
  t: number;
  node: string;
  pid: number;
  rssKiB: number;
  fds: number;
  conns: number;
}

const samples: Sample[] = [];
const churn = new ChurnLoad();
let churnTotal: ChurnTally | undefined;
let sampler: ReturnType<typeof setInterval> | undefined;
const t0 = performance.now();
const rampSec = Number(env.SOAK_RAMP_SEC ?? 120);

async function connections(url: string): Promise<number> {
  const text = await fetch(url + "/metrics").then((r) => r.text(), () => "");
  const line = text.split("\n").find((l) => l.startsWith("switchboard_connections "));
  return Number(line?.split(" ")[1] ?? NaN);
}

async function sample(cluster: ChaosCluster): Promise<void> {
  const t = Math.round((performance.now() - t0) / 1000);
  const line: string[] = [];
  for (const n of cluster.nodes) {
    try {
      const f = footprint(n.server.proc.pid);
      const conns = await connections(n.server.url);
      const ready = await fetch(n.server.url + "/health/ready").then((r) => r.status, () => 0);
      samples.push({ t, node: n.name, pid: n.server.proc.pid, rssKiB: f.rssKiB, fds: f.fds, conns });
      line.push(`${n.name} rss=${Math.round(f.rssKiB / 1024)}MiB fds=${f.fds} conns=${conns}${ready === 200 ? "" : ` ready=${ready}`}`);
    } catch {
      line.push(`${n.name} restarting`);
    }
  }
  try {
    const r = footprint(cluster.redis.pid);
    line.push(`redis rss=${Math.round(r.rssKiB / 1024)}MiB ${await redisInfo(cluster)}`);
  } catch {
    line.push("redis down");
  }
  const c = churn.total();
  log(`  ${t}s ${line.join(" | ")} | churn open=${c.open} connects=${c.connects} dup=${c.dup} silentGaps=${c.silentGaps} recoveredFalse=${c.recoveredFalse}`);
}

/** Least-squares slope of y over t (per second). */
function slope(points: { t: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den === 0 ? NaN : num / den;
}

function slopes(): { node: string; pid: number; fromSec: number; toSec: number; rssMiBPer10Min: number; fdsPer10Min: number; rssMiB: [number, number]; fds: [number, number] }[] {
  const out = [];
  const warm = rampSec + 60;
  for (const node of [...new Set(samples.map((s) => s.node))]) {
    const byPid = new Map<number, Sample[]>();
    for (const s of samples) if (s.node === node && s.t >= warm) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s]);
    const longest = [...byPid.values()].sort((a, b) => b.at(-1)!.t - b[0]!.t - (a.at(-1)!.t - a[0]!.t))[0];
    if (!longest || longest.length < 2) continue;
    out.push({
      node,
      pid: longest[0]!.pid,
      fromSec: longest[0]!.t,
      toSec: longest.at(-1)!.t,
      rssMiBPer10Min: Math.round((slope(longest.map((s) => ({ t: s.t, y: s.rssKiB / 1024 }))) * 600) * 10) / 10,
      fdsPer10Min: Math.round(slope(longest.map((s) => ({ t: s.t, y: s.fds }))) * 600 * 10) / 10,
      rssMiB: [Math.round(longest[0]!.rssKiB / 1024), Math.round(longest.at(-1)!.rssKiB / 1024)] as [number, number],
      fds: [longest[0]!.fds, longest.at(-1)!.fds] as [number, number],
    });
  }
  return out;
}

const [lifeLo, lifeHi] = (env.SOAK_LIFE_SEC ?? "30-180").split("-").map(Number) as [number, number];
const r = await runChaos({
  seed,
  messages: Number(env.SOAK_MESSAGES ?? 1_000_000),
  channels,
  publishers: 12,
  subscribers,
  channelsPerSubscriber: Math.ceil(channels / 4),
  window: churnMode ? 4 : 32,
  log,
  nodeLogDir: env.SOAK_LOG_DIR,
  nodeLogLevel: env.SOAK_LOG_LEVEL,
  presenceTtlSec: Number(env.SOAK_PRESENCE_TTL_SEC ?? (churnMode ? 15 : 3)),
  ...(churnMode
    ? {
        durationSec: minutes! * 60,
        paceMs: Number(env.SOAK_PACE_MS ?? 200),
        faultEverySec: (env.SOAK_FAULT_SEC ?? "40-120").split("-").map(Number) as [number, number],
        killable: [2],
        finalRedisKill: env.SOAK_FINAL_REDIS_KILL === "1",
        historySize: 10_000,
        started: async (cluster: ChaosCluster, chs: string[]) => {
          churn.start({
            connections: Number(env.SOAK_CONNECTIONS ?? 15_000),
            procs: Number(env.SOAK_PROCS ?? 5),
            ports: cluster.nodes.map((n) => n.port),
            channels: chs,
            channelsPerConn: 2,
            lifeSec: [lifeLo, lifeHi],
            rampSec,
          });
          sampler = setInterval(() => void sample(cluster), 30_000);
        },
        loadStopped: async () => {
          clearInterval(sampler);
          churnTotal = await churn.stop();
        },
      }
    : {}),
});
const { footprints, ...verdict } = r;
console.log(JSON.stringify({ ...verdict, footprints }));
const ok =
  r.lost === 0 &&
  r.duplicated === 0 &&
  r.phantom === 0 &&
  r.mismatched === 0 &&
  r.silentGaps === 0 &&
  r.refusedPresent === 0 &&
  r.footprints.every((f) => f.end.fds <= f.baseline.fds + 10) &&
  (churnTotal === undefined || (churnTotal.dup === 0 && churnTotal.silentGaps === 0));
if (churnMode) {
  console.log(`churn: ${JSON.stringify(churnTotal)}`);
  for (const s of slopes()) {
    console.log(`slope ${s.node} (pid ${s.pid}, ${s.fromSec}-${s.toSec}s): RSS ${s.rssMiB[0]}→${s.rssMiB[1]} MiB, ${s.rssMiBPer10Min} MiB/10min; fds ${s.fds[0]}→${s.fds[1]}, ${s.fdsPer10Min}/10min`);
  }
  const peak = Math.max(0, ...[...new Set(samples.map((s) => s.t))].map((t) => samples.filter((s) => s.t === t).reduce((a, s) => a + (s.conns || 0), 0)));
  console.log(`peak connections over the three nodes (samples): ${peak}`);
}
console.log(ok ? `soak seed=${seed}: ok` : `soak seed=${seed}: FAILED`);
process.exit(ok ? 0 : 1);
