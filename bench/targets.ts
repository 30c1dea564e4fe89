/**
 * The servers under test. Each target starts one or more server processes on
 * free loopback ports and tells the load workers which client dialect to
 * speak and how to authenticate.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "./lib/clock.ts";
import { BUN, freePort, onExit, ROOT, rssBytes, spawnTracked, type Tracked } from "./lib/procs.ts";
import { DEFAULT_NAMESPACES } from "../src/config/policy.ts";
import type { DialectKind } from "./load/dialects.ts";
import type { AuthSpec } from "./load/jobs.ts";

export const TARGETS = ["switchboard", "switchboard-node", "switchboard-socketio", "bun-chat", "bun-raw", "uws-node", "ws-node", "socketio-node", "socketio-redis", "lossy-peer"] as const;
export type TargetName = (typeof TARGETS)[number];

export const BENCH_SECRET = "bench-secret-0123456789-abcdefghijklmnop";
export const BENCH_API_KEY = "bench-api-key";
export const BENCH_TENANT = "t1";
export const ROOM = "room:bench";

export interface ServerNode {
  name: string;
  port: number;
  pid: number;
  rss(): number;
  stop(): Promise<void>;
  /** WORKERS > 1: the server processes under the supervisor (`pid`), read from /proc once all serve. */
  workerPids?: number[];
}

export interface StartOptions {
  nodes: number;
  redisUrl?: string;
  /** Switchboard only: WORKERS (processes on one port), HOST and DATABASE_URL for them. */
  workers?: number;
  host?: string;
  databaseUrl?: string;
  /** Switchboard only: extra settings. */
  env?: Record<string, string>;
}

export interface Target {
  name: TargetName;
  dialect: DialectKind;
  /** Runtime + library, for the report. */
  stack: string;
  /** How its work differs from Switchboard's, for the report. */
  note: string;
  /** Whether N nodes share publications (through Redis). */
  clustered: boolean;
  /** Only meaningful in the chat scenarios (one room that every connection joins on open). */
  chatOnly?: boolean;
  auth?: AuthSpec;
  apiKey?: string;
  tenant?: string;
  start(opts: StartOptions): Promise<ServerNode[]>;
}

async function waitReady(t: Tracked, port: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (t.proc.exitCode !== null || t.proc.signalCode !== null) break;
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health/ready`);
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await t.stop();
  throw new Error(`${t.name} did not become ready on port ${port} (exit ${t.proc.exitCode ?? t.proc.signalCode}):\n${t.tail.join("\n")}`);
}

function node(t: Tracked, port: number, cleanup?: () => void): ServerNode {
  return {
    name: t.name,
    port,
    pid: t.pid,
    rss: () => rssBytes(t.pid),
    async stop() {
      await t.stop();
      cleanup?.();
    },
  };
}

async function startMany(n: number, f: (i: number) => Promise<ServerNode>): Promise<ServerNode[]> {
  const out: ServerNode[] = [];
  try {
    for (let i = 0; i < n; i++) out.push(await f(i));
  } catch (e) {
    await Promise.all(out.map((s) => s.stop()));
    throw e;
  }
  return out;
}

function peer(name: TargetName, cmd: (port: number) => string[], env: (o: { redisUrl?: string }) => Record<string, string> = () => ({})) {
  return (opts: { nodes: number; redisUrl?: string }) =>
    startMany(opts.nodes, async (i) => {
      const port = await freePort();
      const t = spawnTracked(`${name}#${i}`, cmd(port), { PORT: String(port), NODE_ENV: "production", ...env(opts) });
      await waitReady(t, port);
      return node(t, port);
    });
}

const NODE = "node";

let nodeBuild: string | undefined;

/** The Node build of Switchboard, built once per bench run by `npm run build:node`'s script (into .tmp/, two levels down like dist/node). */
function switchboardNodeBuild(): string {
  if (nodeBuild) return nodeBuild;
  const out = join(ROOT, ".tmp", "bench-node");
  rmSync(out, { recursive: true, force: true });
  const b = Bun.spawnSync([BUN, "scripts/build-node.ts", out], { cwd: ROOT, stderr: "pipe", stdout: "ignore" });
  if (b.exitCode !== 0) throw new Error(`the Node build failed:\n${b.stderr.toString()}`);
  return (nodeBuild = join(out, "main.js"));
}

/**
 * Switchboard nodes; `socketio` adds a config file whose Socket.IO mapping subscribes nothing on connect, so both doors do the same work.
 * `runtime` "node" runs the Node build (uWebSockets.js transport); it drains when the bench dies through EXIT_WITH_PARENT (on by default).
 */
function startSwitchboard(opts: StartOptions, socketio: boolean, runtime: "bun" | "node" = "bun"): Promise<ServerNode[]> {
  return startMany(opts.nodes, async (i) => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), "sb-bench-"));
    const env: Record<string, string> = {
      NODE_ENV: "production",
      CORS_ORIGINS: "*",
      WS_UPGRADES_PER_IP_PER_SEC: "0",
      WS_MAX_UNAUTHENTICATED_PER_IP: "0",
      HOST: opts.host ?? "127.0.0.1",
      PORT: String(port),
      JWT_SECRET: BENCH_SECRET,
      API_KEYS: BENCH_API_KEY,
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      WS_RATE_LIMIT_PER_SEC: "0",
      WS_MAX_CONNECTIONS_PER_USER: "0",
      NODE_ID: `bench-${i}`,
    };
    if (opts.redisUrl) env.REDIS_URL = opts.redisUrl;
    if (opts.databaseUrl) env.DATABASE_URL = opts.databaseUrl;
    Object.assign(env, opts.env);
    const workers = opts.workers && opts.workers > 1 ? opts.workers : 0;
    if (workers) env.WORKERS = String(workers);
    if (socketio) {
      env.SWITCHBOARD_CONFIG = join(dataDir, "bench-config.json");
      writeFileSync(env.SWITCHBOARD_CONFIG, JSON.stringify({ namespaces: DEFAULT_NAMESPACES, socketio: { namespaces: { "/": { autoSubscribe: [] } } } }));
    }
    const name = socketio ? "switchboard-socketio" : runtime === "node" ? "switchboard-node" : "switchboard";
    const command = runtime === "node" ? [NODE, "--expose-gc", switchboardNodeBuild()] : [BUN, ...serverFlags(), "--preload", "./bench/peers/parent-watch.ts", "src/main.ts"];
    const t = spawnTracked(`${name}#${i}`, command, env);
    let workerPids: number[] | undefined;
    try {
      await waitReady(t, port);
      if (workers) workerPids = await waitWorkers(t, port, workers);
    } catch (e) {
      await t.stop();
      rmSync(dataDir, { recursive: true, force: true });
      throw e;
    }
    const rm = () => rmSync(dataDir, { recursive: true, force: true });
    onExit(rm);
    return { ...node(t, port, rm), workerPids };
  });
}

/**
 * WORKERS: waits until `n` distinct NODE_IDs have answered /health on the
 * shared port (a fresh connection per request, so the kernel picks a process
 * each time), then reads the supervisor's children from /proc.
 */
async function waitWorkers(t: Tracked, port: number, n: number, timeoutMs = 60_000): Promise<number[]> {
  const seen = new Set<string>();
  const until = Date.now() + timeoutMs;
  while (seen.size < n && Date.now() < until) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`, { headers: { connection: "close" } });
      seen.add(((await r.json()) as { node: string }).node);
    } catch {
      // one process is still starting
    }
    if (seen.size < n) await sleep(20);
  }
  if (seen.size < n) throw new Error(`only ${seen.size} of ${n} workers answered within ${timeoutMs} ms:\n${t.tail.join("\n")}`);
  const children = readFileSync(`/proc/${t.pid}/task/${t.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
  if (children.length !== n) throw new Error(`expected ${n} worker processes under ${t.pid}, found ${children.length}`);
  return children;
}

/** Extra Bun flags for the Bun servers (switchboard, bun-raw, bun-chat), e.g. BENCH_SERVER_FLAGS="--cpu-prof-md --cpu-prof-dir=.tmp/prof". */
function serverFlags(): string[] {
  return (process.env.BENCH_SERVER_FLAGS ?? "").split(/\s+/).filter(Boolean);
}

export const targets: Record<TargetName, Target> = {
  switchboard: {
    name: "switchboard",
    dialect: "switchboard",
    stack: "Bun.serve + Hono (src/main.ts)",
    note: "real protocol: JWT auth on upgrade, frame validation, channel policy, offsets, room history (local engine: bun:sqlite; REDIS_URL: Redis Streams)",
    clustered: true,
    auth: { secret: BENCH_SECRET, tenant: BENCH_TENANT, rooms: ["bench", "idle"], subPrefix: "u" },
    apiKey: BENCH_API_KEY,
    tenant: BENCH_TENANT,
    start: (opts) => startSwitchboard(opts, false),
  },
  "switchboard-node": {
    name: "switchboard-node",
    dialect: "switchboard",
    stack: "Node 20 + uWebSockets.js + Hono (npm run build:node bundle of src/main.ts)",
    note: "the switchboard target on Node: same protocol, hub, policy, offsets and history (local engine: better-sqlite3; REDIS_URL: Redis Streams); one process per node",
    clustered: true,
    auth: { secret: BENCH_SECRET, tenant: BENCH_TENANT, rooms: ["bench", "idle"], subPrefix: "u" },
    apiKey: BENCH_API_KEY,
    tenant: BENCH_TENANT,
    start: (opts) => startSwitchboard(opts, false, "node"),
  },
  "switchboard-socketio": {
    name: "switchboard-socketio",
    dialect: "switchboard-socketio",
    stack: "Bun.serve (src/main.ts), /socket.io/ endpoint",
    note: "the switchboard target through Engine.IO v4 + Socket.IO v5 framing: JWT in CONNECT, generic subscribe/publish events, same hub, policy, offsets and history (no auto-subscribe)",
    clustered: true,
    auth: { secret: BENCH_SECRET, tenant: BENCH_TENANT, rooms: ["bench", "idle"], subPrefix: "u" },
    apiKey: BENCH_API_KEY,
    tenant: BENCH_TENANT,
    start: (opts) => startSwitchboard(opts, true),
  },
  "bun-chat": {
    name: "bun-chat",
    dialect: "raw",
    stack: `Bun ${Bun.version} Bun.serve, ws.subscribe on open/ws.publishText`,
    note: "physical floor (Bun's own chat benchmark server): each client text published as it is; no JSON, no acks, no auth; chat scenarios only",
    clustered: false,
    chatOnly: true,
    start: peer("bun-chat", () => [BUN, ...serverFlags(), "bench/peers/bun-chat.ts"]),
  },
  "bun-raw": {
    name: "bun-raw",
    dialect: "peer",
    stack: `Bun ${Bun.version} Bun.serve, ws.subscribe/server.publish`,
    note: "floor: no auth, no validation, no offsets/history; JSON.parse per frame, one JSON.stringify per publication, ok acks",
    clustered: false,
    start: peer("bun-raw", () => [BUN, ...serverFlags(), "bench/peers/bun-raw.ts"]),
  },
  "uws-node": {
    name: "uws-node",
    dialect: "peer",
    stack: "Node 20 + uWebSockets.js (@trufflesuite/uws-js-unofficial 20.30)",
    note: "same work as bun-raw (app.publish topics)",
    clustered: false,
    start: peer("uws-node", () => [NODE, "bench/peers/uws-node.cjs"]),
  },
  "ws-node": {
    name: "ws-node",
    dialect: "peer",
    stack: "Node 20 + ws 8",
    note: "same work as bun-raw; rooms are Sets, one Buffer per publication sent to each member",
    clustered: false,
    start: peer("ws-node", () => [NODE, "bench/peers/ws-node.mjs"]),
  },
  "socketio-node": {
    name: "socketio-node",
    dialect: "socketio",
    stack: "Node 20 + Socket.IO 4 (in-memory adapter)",
    note: "Engine.IO/Socket.IO framing, rooms, acks; no auth",
    clustered: false,
    start: peer("socketio-node", () => [NODE, "bench/peers/socketio-node.mjs"]),
  },
  "lossy-peer": {
    name: "lossy-peer",
    dialect: "peer",
    stack: `Bun ${Bun.version} Bun.serve, a Set per room`,
    note: "deliberately broken: drops 1 delivery in 10 and duplicates 1 in 20; its runs must be flagged",
    clustered: false,
    start: peer("lossy-peer", () => [BUN, "bench/peers/lossy-peer.ts"]),
  },
  "socketio-redis": {
    name: "socketio-redis",
    dialect: "socketio",
    stack: "Node 20 + Socket.IO 4 + @socket.io/redis-streams-adapter",
    note: "Socket.IO rooms shared between nodes through one Redis stream; no auth",
    clustered: true,
    start: peer("socketio-redis", () => [NODE, "bench/peers/socketio-node.mjs"], (o): Record<string, string> => (o.redisUrl ? { REDIS_URL: o.redisUrl } : {})),
  },
};

export interface RedisServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free loopback port, no persistence. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const t = spawnTracked("redis-server", ["/usr/bin/redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"]);
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, "127.0.0.1", () => {
        s.write("PING\r\n");
      });
      s.once("data", (d) => {
        s.destroy();
        res(d.toString().startsWith("+PONG"));
      });
      s.once("error", () => res(false));
    });
    if (ok) return { url: `redis://127.0.0.1:${port}`, pid: t.pid, stop: () => t.stop() };
    await sleep(50);
  }
  await t.stop();
  throw new Error(`redis-server did not start:\n${t.tail.join("\n")}`);
}
