/**
 * The chaos run's processes: one Redis with AOF `appendfsync always` and
 * three Switchboard nodes on fixed ports (so that a killed node comes back
 * where its clients reconnect), each restartable after SIGKILL.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, startRedis, type RedisServer } from "../helpers/redis.ts";
import { TEST_API_KEY, TEST_SECRET } from "../helpers/server.ts";

const ROOT = join(import.meta.dir, "../..");

/**
 * A node process. Its log (stdout) is not kept unless the cluster was given a
 * log directory (a long run would hold every line); crashes go to stderr.
 */
export interface NodeProcess {
  url: string;
  proc: Subprocess<"ignore", "ignore" | number, "inherit">;
  exited: Promise<number>;
  stop(): Promise<number>;
}

export interface ChaosNode {
  name: string;
  port: number;
  server: NodeProcess;
  /** fds and resident KiB of the first process, before any client connected. */
  baseline: ProcessFootprint;
  restarts: number;
}

export interface ProcessFootprint {
  fds: number;
  rssKiB: number;
}

export function footprint(pid: number): ProcessFootprint {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { fds, rssKiB: m ? Number(m[1]) : 0 };
}

export class ChaosCluster {
  readonly nodes: ChaosNode[] = [];
  redis!: RedisServer;
  private readonly dir = mkdtempSync(join(tmpdir(), "sb-chaos-"));
  private env: Record<string, string> = {};
  private spawned = 0;

  /**
   * `logDir`: each node process appends its log to `<logDir>/<name>.<n>.log`
   * (n counts the processes started), at `logLevel` (default warn).
   * `presenceTtlSec`: PRESENCE_TTL_SEC of the nodes (3: ghost leases go
   * within seconds in a short run; every connection's lease is refreshed
   * every third of it, so the soak's 15,000 connections use the default).
   */
  constructor(private readonly logs: { logDir?: string; logLevel?: string; presenceTtlSec?: number } = {}) {}

  async start(nodeCount: number, historySize: number): Promise<void> {
    this.redis = await startRedis({ appendonly: true, appendfsync: "always", readyTimeoutMs: 120_000 });
    const policy = join(this.dir, "policy.json");
    writeFileSync(
      policy,
      JSON.stringify({ namespaces: { room: { subscribe: ["claim:rooms"], publish: ["claim:rooms"], history: { size: historySize, ttlSec: 3600 }, presence: false, joinLeave: false } } }),
    );
    this.env = {
      REDIS_URL: this.redis.url,
      REDIS_PREFIX: `chaos${process.pid}`,
      SWITCHBOARD_CONFIG: policy,
      WS_RATE_LIMIT_PER_SEC: "0",
      WS_MAX_CONNECTIONS_PER_USER: "0",
      WS_UPGRADES_PER_IP_PER_SEC: "0",
      WS_MAX_UNAUTHENTICATED_PER_IP: "0",
      PRESENCE_TTL_SEC: String(this.logs.presenceTtlSec ?? 3),
      REDIS_COMMAND_TIMEOUT_MS: "500",
      LOG_LEVEL: this.logs.logLevel ?? "warn",
      // Production: a node that cannot reach Redis at start exits instead of falling back to the embedded engine.
      NODE_ENV: "production",
      CORS_ORIGINS: "*",
    };
    for (let i = 0; i < nodeCount; i++) {
      const port = await freePort();
      const name = `chaos-${i}`;
      const server = await this.spawn(name, port);
      this.nodes.push({ name, port, server, baseline: footprint(server.proc.pid), restarts: 0 });
    }
  }

  private async spawn(name: string, port: number): Promise<NodeProcess> {
    let logFd: number | undefined;
    if (this.logs.logDir) {
      mkdirSync(this.logs.logDir, { recursive: true });
      logFd = openSync(join(this.logs.logDir, `${name}.${this.spawned++}.log`), "a");
    }
    const proc = Bun.spawn([process.execPath, join(ROOT, "src/main.ts")], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", HOST: "127.0.0.1", PORT: String(port), JWT_SECRET: TEST_SECRET, API_KEYS: TEST_API_KEY, DATA_DIR: join(this.dir, name), ...this.env, NODE_ID: name },
      stdin: "ignore",
      stdout: logFd ?? "ignore",
      stderr: "inherit",
    });
    // The child holds its own copy of the descriptor.
    if (logFd !== undefined) closeSync(logFd);
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    // Listening is a condition to poll: the node's log goes nowhere.
    while ((await fetch(url + "/health/live").then((r) => r.status, () => 0)) !== 200) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`${name} exited with ${proc.exitCode ?? proc.signalCode} before listening`);
      if (Date.now() > deadline) {
        proc.kill("SIGKILL");
        throw new Error(`${name} did not listen within 15 s`);
      }
      await Bun.sleep(25);
    }
    return {
      url,
      proc,
      exited: proc.exited,
      async stop() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
        return proc.exited;
      },
    };
  }

  /** SIGKILL, then a fresh process on the same port once the old one is gone. */
  async killAndRestart(node: ChaosNode, downMs: number): Promise<void> {
    node.server.proc.kill("SIGKILL");
    await node.server.exited;
    await Bun.sleep(downMs);
    // The port may linger for a moment after the kill; retry the start a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        node.server = await this.spawn(node.name, node.port);
        break;
      } catch (err) {
        if (attempt >= 40) throw err;
        await Bun.sleep(250);
      }
    }
    node.restarts++;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server.stop().catch(() => 0)));
    await this.redis?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
