/**
 * Server CPU per authenticated connect on the Node build (uWebSockets.js
 * transport), for comparing builds within one run: each round starts every
 * given bundle in turn (A B, A B, …, so foreign load on a shared machine
 * falls on all alike) with the connect bench's settings, opens N connections
 * from the connect scenario's load workers (HS256 JWT in `Authorization:
 * Bearer`, wait for `hello`, two subscriptions each), and reads the server's
 * CPU time (utime+stime from /proc) from the go to the last subscription.
 * Prints per bundle and round: connects/s and server CPU µs per connect; then
 * the median of each.
 * Usage: npx bun bench/micro/node-upgrade.ts LABEL=path/to/main.js [LABEL=…]
 *   (build one with `npx bun scripts/build-node.ts .tmp/<dir>`; N=connections, default 8000; R=rounds, default 3; W=load workers, default 2;
 *   NODE_ARGS=extra server flags; LOG_LEVEL=the server's, default warn: info writes the audit lines)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../lib/clock.ts";
import { cpuSeconds, freePort, spawnTracked, stopAll } from "../lib/procs.ts";
import { LoadWorker } from "../lib/workers.ts";
import { soon, spread } from "../scenarios/common.ts";
import { BENCH_API_KEY, BENCH_SECRET, BENCH_TENANT } from "../targets.ts";

const N = Number(process.env.N ?? 8000);
const R = Number(process.env.R ?? 3);
const W = Number(process.env.W ?? 2);
/** Extra flags for the server, e.g. NODE_ARGS="--cpu-prof --cpu-prof-dir=.tmp/prof". */
const NODE_ARGS = (process.env.NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
const builds = process.argv.slice(2).map((a) => {
  const i = a.indexOf("=");
  if (i < 1) throw new Error(`expected LABEL=path/to/main.js, got ${a}`);
  return { label: a.slice(0, i), path: a.slice(i + 1) };
});
if (builds.length === 0) throw new Error("usage: npx bun bench/micro/node-upgrade.ts LABEL=path/to/main.js [LABEL=…]");

async function waitReady(port: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health/ready`);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`the server on ${port} did not become ready`);
}

async function round(bundle: string, tag: string): Promise<{ perSec: number; cpuUs: number }> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "sb-node-upgrade-"));
  const server = spawnTracked(`server-${tag}`, ["node", "--expose-gc", ...NODE_ARGS, bundle], {
    NODE_ENV: "production",
    CORS_ORIGINS: "*",
    WS_UPGRADES_PER_IP_PER_SEC: "0",
    WS_MAX_UNAUTHENTICATED_PER_IP: "0",
    HOST: "127.0.0.1",
    PORT: String(port),
    JWT_SECRET: BENCH_SECRET,
    API_KEYS: BENCH_API_KEY,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
    WS_RATE_LIMIT_PER_SEC: "0",
    WS_MAX_CONNECTIONS_PER_USER: "0",
    NODE_ID: `micro-${tag}`,
  });
  const workers: LoadWorker[] = [];
  try {
    await waitReady(port);
    spread(N, W).forEach((k, i) =>
      workers.push(
        LoadWorker.start(`w${i}-${tag}`, {
          kind: "connect",
          dialect: "switchboard",
          ep: { host: "127.0.0.1", port },
          auth: { secret: BENCH_SECRET, tenant: BENCH_TENANT, rooms: ["bench", "idle"], subPrefix: `${tag}-w${i}-` },
          users: `${tag}-w${i}-`,
          n: k,
          ch: "room:idle",
          concurrency: 128,
        }),
      ),
    );
    await Promise.all(workers.map((w) => w.waitFor("prepared", 60_000)));
    await sleep(300);
    const cpu0 = cpuSeconds(server.pid);
    workers.forEach((w) => w.send({ cmd: "go", startAt: soon(100) }));
    const ready = await Promise.all(workers.map((w) => w.waitFor("ready", 180_000)));
    const cpu1 = cpuSeconds(server.pid);
    const failed = ready.reduce((s, r) => s + r.connectFailed + r.subFailed, 0);
    if (failed > 0) throw new Error(`${failed} connects or subscriptions failed: ${ready.find((r) => r.firstError)?.firstError}`);
    const from = Math.min(...ready.map((r) => r.connectFrom));
    const to = Math.max(...ready.map((r) => r.connectTo));
    return { perSec: Math.round(N / ((to - from) / 1000)), cpuUs: Math.round(((cpu1 - cpu0) / N) * 1e7) / 10 };
  } finally {
    workers.forEach((w) => w.send({ cmd: "stop" }));
    await Promise.all(workers.map((w) => w.stop()));
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results = new Map<string, { perSec: number; cpuUs: number }[]>(builds.map((b) => [b.label, []]));
for (let r = 0; r < R; r++) {
  for (const b of builds) {
    const res = await round(b.path, `${b.label}${r}`);
    results.get(b.label)!.push(res);
    console.log(`round ${r + 1} ${b.label}: ${res.perSec} connects/s, ${res.cpuUs} µs server CPU per connect`);
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [label, rs] of results) {
  console.log(`${label}: median ${median(rs.map((x) => x.perSec))} connects/s, ${median(rs.map((x) => x.cpuUs))} µs server CPU per connect (${N} connections, ${R} rounds)`);
}
await stopAll();
