/**
 * Real redis-server processes for tests: free ports, temp dirs, a 3-master
 * cluster, and signal helpers. Every process started here is ended here, by PID.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const REDIS_SERVER = "/usr/bin/redis-server";
const REDIS_CLI = "/usr/bin/redis-cli";

export function requireRedisServer(): void {
  if (!existsSync(REDIS_SERVER) || !existsSync(REDIS_CLI)) {
    throw new Error("redis-server not found: install it with `apt-get install -y redis-server`");
  }
}

async function portIsFree(port: number): Promise<boolean> {
  try {
    const l = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    l.stop(true);
    return true;
  } catch {
    return false;
  }
}

/** A free loopback port; with `busPortFree`, port + 10000 is free too (Redis Cluster bus). */
export async function freePort(busPortFree = false): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if (!(await portIsFree(port))) continue;
    if (busPortFree && !(await portIsFree(port + 10000))) continue;
    return port;
  }
  throw new Error("no free port found");
}

export interface RedisOptions {
  port?: number;
  /** Working directory (AOF files live here); a fresh temp dir otherwise. */
  dir?: string;
  appendonly?: boolean;
  appendfsync?: "always" | "everysec" | "no";
  cluster?: boolean;
  /** How long a start or restart may take to accept connections (a big AOF loads slowly on a busy machine). */
  readyTimeoutMs?: number;
}

export interface RedisServer {
  port: number;
  host: string;
  url: string;
  dir: string;
  readonly pid: number;
  /** SIGKILL, then wait for exit. */
  kill(): Promise<void>;
  pause(): void;
  resume(): void;
  /** Starts it again on the same port and dir (after kill/stop). */
  restart(): Promise<void>;
  /** SIGTERM, wait for exit, remove the temp dir. */
  stop(): Promise<void>;
  cli(...args: string[]): Promise<string>;
}

async function spawnRedis(port: number, dir: string, opts: RedisOptions): Promise<Subprocess<"ignore", "pipe", "pipe">> {
  const args = [
    REDIS_SERVER,
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--dir", dir,
    "--save", "",
    "--appendonly", opts.appendonly ? "yes" : "no",
    "--appendfsync", opts.appendfsync ?? "everysec",
    "--protected-mode", "no",
    "--daemonize", "no",
    "--loglevel", "notice",
  ];
  if (opts.cluster) args.push("--cluster-enabled", "yes", "--cluster-config-file", join(dir, "nodes.conf"), "--cluster-node-timeout", "2000");
  const proc = Bun.spawn(args, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const ready = Promise.withResolvers<void>();
  let out = "";
  (async () => {
    const dec = new TextDecoder();
    const reader = proc.stdout.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      out += dec.decode(value, { stream: true });
      if (out.includes("Ready to accept connections")) ready.resolve();
      if (out.length > 100_000) out = out.slice(-10_000);
    }
  })();
  proc.exited.then((code) => ready.reject(new Error(`redis-server on ${port} exited with ${code}:\n${out.slice(-2000)}`)));
  const readyMs = opts.readyTimeoutMs ?? 10_000;
  const timer = setTimeout(() => ready.reject(new Error(`redis-server on ${port} not ready within ${readyMs / 1000} s`)), readyMs);
  try {
    await ready.promise.finally(() => clearTimeout(timer));
  } catch (err) {
    // Not ready in time: nobody holds this process, so it must not outlive the failure.
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    throw err;
  }
  return proc;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  requireRedisServer();
  const port = opts.port ?? (await freePort(opts.cluster));
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "sb-redis-"));
  let proc = await spawnRedis(port, dir, opts);
  const server: RedisServer = {
    port,
    host: "127.0.0.1",
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return proc.pid;
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await proc.exited;
    },
    pause() {
      process.kill(proc.pid, "SIGSTOP");
    },
    resume() {
      process.kill(proc.pid, "SIGCONT");
    },
    async restart() {
      if (proc.exitCode === null && proc.signalCode === null) throw new Error("redis-server still running");
      proc = await spawnRedis(port, dir, opts);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        process.kill(proc.pid, "SIGCONT");
        proc.kill("SIGTERM");
      }
      await proc.exited;
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
    cli: (...args) => redisCli(port, ...args),
  };
  return server;
}

export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const p = Bun.spawn([REDIS_CLI, "-h", "127.0.0.1", "-p", String(port), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`redis-cli ${args.join(" ")} failed (${code}): ${err}`);
  return out;
}

export interface RedisCluster {
  nodes: RedisServer[];
  /** "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3" — the REDIS_CLUSTER_NODES form. */
  nodesEnv: string;
  stop(): Promise<void>;
}

/** Three masters, no replicas, all 16384 slots assigned; resolves when every node reports cluster_state:ok. */
export async function startRedisCluster(opts: Omit<RedisOptions, "cluster" | "port"> = {}): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await startRedis({ ...opts, cluster: true }));
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await redisCli(nodes[0].port, "--cluster", "create", ...addrs, "--cluster-replicas", "0", "--cluster-yes");
    const deadline = Date.now() + 15_000;
    for (const n of nodes) {
      // Gossip converges within a few hundred ms; this polls a condition, not a fixed delay.
      while (!(await n.cli("cluster", "info")).includes("cluster_state:ok")) {
        if (Date.now() > deadline) throw new Error("redis cluster did not reach cluster_state:ok within 15 s");
        await Bun.sleep(50);
      }
    }
    return {
      nodes,
      nodesEnv: addrs.join(","),
      async stop() {
        await Promise.all(nodes.map((n) => n.stop()));
      },
    };
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }
}
