/**
 * The parser fuzz at soak size: N (default 1,000,000) seeded hostile inputs
 * through the WebSocket frame path (Hub.message on authenticated and
 * unauthenticated connections, embedded engine) and the HTTP API (the Hono
 * app, in process). Reports the slowest single input (a stall: the event
 * loop is blocked for all of it) and RSS over the run (flat memory), and
 * exits 1 when an input cost over 50 ms, memory grew, or an answer was an
 * INTERNAL_ERROR. Cost is process CPU time (process.cpuUsage), which a
 * shared, overloaded machine does not inflate the way it inflates wall
 * time; both are reported.
 * Usage: node_modules/.bin/bun bench/fuzz/parsers.ts   (N=inputs, SEED=seed)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/load.ts";
import { LocalEngine } from "../../src/engine/local/local-engine.ts";
import { ChannelPolicy } from "../../src/hub/channel-policy.ts";
import { Hub } from "../../src/hub/hub.ts";
import { systemClock, type Conn } from "../../src/hub/ports.ts";
import { ServerApi } from "../../src/hub/server-api.ts";
import { TokenVerifier } from "../../src/hub/token-verifier.ts";
import { HealthCheck } from "../../src/observability/health.ts";
import { createLogger } from "../../src/observability/logger.ts";
import { LoopLagMonitor } from "../../src/observability/loop-lag.ts";
import { Metrics } from "../../src/observability/metrics.ts";
import { ReportRenderer } from "../../src/reports/report-renderer.ts";
import { createHttpApp } from "../../src/transport/http/app.ts";
import { FuzzInputs } from "../../tests/helpers/fuzz-inputs.ts";

const N = Number(process.env.N ?? 1_000_000);
const SEED = Number(process.env.SEED ?? 20261201);
const STALL_MS = 50;
const MAX_BYTES = 1024 * 1024;
const API_KEY = "fuzz-api-key-xxxxxxxxxxxxxxxxxxxxxxxx";

const dataDir = mkdtempSync(join(tmpdir(), "sb-fuzz-"));
const config = loadConfig({ NODE_ENV: "production", JWT_SECRET: "x".repeat(40), API_KEYS: API_KEY, CORS_ORIGINS: "*", DATA_DIR: dataDir, WS_RATE_LIMIT_PER_SEC: "0", WS_MAX_CONNECTIONS_PER_USER: "0", LOG_LEVEL: "error" });
let internalErrors = 0;
const logger = createLogger("error", {}, (line) => {
  if (line.includes("INTERNAL") || line.includes('"level":"error"')) internalErrors++;
});
const policy = new ChannelPolicy(config.namespaces);
const verifier = new TokenVerifier({ secret: config.jwt.secret, algorithm: config.jwt.algorithm, requireExp: false, claimNames: policy.claimNames() });
const engine = new LocalEngine({ dataDir, nodeId: "fuzz", logger });
const metrics = new Metrics();
const hub = new Hub({ config, engine, verifier, policy, metrics, logger, clock: systemClock });
await engine.start(hub);
hub.attach({ publish: (_t, data) => data.length, subscriberCount: () => 1 });
const lag = new LoopLagMonitor(1000);
const app = createHttpApp({
  api: new ServerApi(hub),
  reports: new ReportRenderer({ workers: 1, queueSize: 4, timeoutMs: 30_000, maxPages: 50, maxInputBytes: 1 << 20, maxHeapMb: 256, logger }),
  health: new HealthCheck(hub, engine, lag),
  metrics,
  logger,
  apiKeys: [API_KEY],
  corsOrigins: undefined,
  maxBodyBytes: config.ws.maxMessageSize,
});

let answersInternal = 0;
function connection(authenticated: boolean): Conn {
  const conn: Conn = {
    data: hub.newConnData(undefined),
    remoteAddress: "127.0.0.1",
    send: (s) => {
      if (s.includes('"INTERNAL_ERROR"')) answersInternal++;
      return s.length;
    },
    subscribe: () => {},
    unsubscribe: () => {},
    isSubscribed: () => false,
    subscriptions: [],
    close: () => {
      conn.data.closing = true;
    },
    getBufferedAmount: () => 0,
    cork: (cb) => cb(),
  };
  hub.open(conn);
  if (authenticated) hub.authenticate(conn, { sub: "fuzzer", tenant: "fz", roles: [], claims: { rooms: ["r1", "r2"] }, expMs: undefined }, undefined);
  return conn;
}

let authed = connection(true);
let anon = connection(false);
const gen = new FuzzInputs(SEED, MAX_BYTES);
const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
const samples: { at: number; rssMiB: number }[] = [];
let slowest = { ms: 0, kind: "", bytes: 0, head: "" };
let slowestWallMs = 0;
let over10ms = 0;
/** CPU ms since `c0` (user + system). */
const cpuMs = (c0: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};
let frames = 0;
let requests = 0;
const t0 = performance.now();

for (let i = 0; i < N; i++) {
  // Four in five inputs are frames (the hot parser), one in five an HTTP request.
  if (i % 5 !== 4) {
    const raw = gen.frame();
    const conn = i % 10 === 3 ? anon : authed;
    const s = performance.now();
    const c0 = process.cpuUsage();
    hub.message(conn, raw);
    const ms = cpuMs(c0);
    slowestWallMs = Math.max(slowestWallMs, performance.now() - s);
    if (ms > 10) over10ms++;
    if (ms > slowest.ms) slowest = { ms, kind: "frame", bytes: raw.length, head: raw.slice(0, 40) };
    frames++;
    if (conn.data.closing) {
      hub.close(conn, 1008);
      if (conn === anon) anon = connection(false);
      else authed = connection(true);
    }
  } else {
    const r = gen.request();
    const headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` };
    if (r.contentType) headers["content-type"] = r.contentType;
    const req = new Request("http://fuzz" + r.path, { method: r.method, headers, body: r.body });
    const s = performance.now();
    const c0 = process.cpuUsage();
    const res = await app.fetch(req);
    const body = await res.text();
    const ms = cpuMs(c0);
    slowestWallMs = Math.max(slowestWallMs, performance.now() - s);
    if (ms > 10) over10ms++;
    if (ms > slowest.ms) slowest = { ms, kind: "http " + r.path.split("?")[0], bytes: r.body?.length ?? 0, head: (r.body ?? "").slice(0, 40) };
    if (res.status >= 500 && !body.includes("SERVICE_UNAVAILABLE")) answersInternal++;
    requests++;
  }
  // Let the engine's batched writes and the acks run, as the event loop would between frames.
  if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  if (i % Math.max(1000, Math.floor(N / 20)) === 0) {
    Bun.gc(true);
    samples.push({ at: i, rssMiB: Math.round(rssMiB() * 10) / 10 });
  }
}
Bun.gc(true);
samples.push({ at: N, rssMiB: Math.round(rssMiB() * 10) / 10 });
const seconds = (performance.now() - t0) / 1000;
// Flat memory: the second half of the run does not grow past the first half's peak by more than 32 MiB.
const half = samples.filter((s) => s.at >= N / 2);
const firstPeak = Math.max(...samples.filter((s) => s.at < N / 2).map((s) => s.rssMiB));
const growth = Math.max(...half.map((s) => s.rssMiB)) - firstPeak;
const result = { seed: SEED, inputs: N, frames, requests, seconds: Math.round(seconds), slowestCpu: { ...slowest, ms: Math.round(slowest.ms * 10) / 10 }, slowestWallMs: Math.round(slowestWallMs), over10msCpu: over10ms, load: (await import("node:os")).loadavg().map((x) => Math.round(x * 10) / 10), rssMiB: samples, secondHalfGrowthMiB: Math.round(growth * 10) / 10, internalErrors: internalErrors + answersInternal };
console.log(JSON.stringify(result));
await engine.stop();
rmSync(dataDir, { recursive: true, force: true });
const ok = slowest.ms <= STALL_MS && growth <= 32 && result.internalErrors === 0;
console.log(ok ? "fuzz: ok" : "fuzz: FAILED");
process.exit(ok ? 0 : 1);
