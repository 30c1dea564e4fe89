import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { SwitchboardClient } from "../../src/client/index.ts";
import { Inbox, nextEvent } from "../client/support.ts";
import { BIN_DIR, ROOT } from "../helpers/command.ts";
import { freePort } from "../helpers/redis.ts";
import { TEST_API_KEY, TEST_SECRET, token } from "../helpers/server.ts";

/** deploy/local-cluster/README.md's failover check, as documented: kill -9 one of three nodes. */

const CLIENTS = 6;
const BEFORE = 20;
const AFTER = 20;

async function consecutiveFreePorts(n: number): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const base = await freePort();
    const ok = await Promise.all(Array.from({ length: n - 1 }, (_, k) => portFree(base + k + 1)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error("no run of free ports found");
}

async function portFree(port: number): Promise<boolean> {
  try {
    Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }).stop(true);
    return true;
  } catch {
    return false;
  }
}

async function publish(nodeUrl: string, n: number): Promise<void> {
  const res = await fetch(`${nodeUrl}/v1/publish`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ ch: "room:failover", ev: "n", data: { n } }),
  });
  expect(res.status).toBe(200);
}

test("kill -9 one of three nodes: the others keep serving, its clients move to them and recover every message", async () => {
  const [lb, stats, redis, base] = [await freePort(), await freePort(), await freePort(), await consecutiveFreePorts(3)];
  const cluster = spawn("bash", [join(ROOT, "deploy/local-cluster/start.sh"), "3"], {
    cwd: ROOT,
    env: {
      PATH: `${BIN_DIR}:${process.env.PATH ?? ""}`,
      HOME: process.env.HOME ?? "/tmp",
      NODE_ENV: "test",
      LB_PORT: String(lb),
      STATS_PORT: String(stats),
      REDIS_PORT: String(redis),
      NODE_BASE_PORT: String(base),
      JWT_SECRET: TEST_SECRET,
      API_KEYS: TEST_API_KEY,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  const up = Promise.withResolvers<void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes("Ctrl-C stops everything.")) up.resolve();
  };
  cluster.stdout!.on("data", onData);
  cluster.stderr!.on("data", onData);
  const exited = new Promise<number | null>((r) => cluster.once("exit", (code) => r(code)));
  exited.then(() => up.reject(new Error(`start.sh exited:\n${out}`)));
  const clients: SwitchboardClient[] = [];
  try {
    await up.promise;
    const pids = Object.fromEntries([...out.matchAll(/(node\d)=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]));
    expect(Object.keys(pids).sort()).toEqual(["node1", "node2", "node3"]);

    const inboxes: Inbox<{ n: number }>[] = [];
    const nodeOf: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const jwt = await token({ sub: `watcher${i}`, rooms: ["failover"] });
      const c = new SwitchboardClient(`ws://127.0.0.1:${lb}/v1/ws`, { token: jwt, minReconnectDelayMs: 50, maxReconnectDelayMs: 500 });
      clients.push(c);
      const inbox = new Inbox<{ n: number }>();
      inboxes.push(inbox);
      c.on("connected", (hello) => (nodeOf[i] = hello.node));
      const sub = c.subscribe("room:failover", inbox.push);
      await c.connect();
      await sub.ready;
    }
    // leastconn spreads them; kill a node that has clients, publish through one that survives.
    const victim = nodeOf[0]!;
    const survivor = ["node1", "node2", "node3"].find((n) => n !== victim)!;
    const survivorUrl = `http://127.0.0.1:${base + Number(survivor.slice(4)) - 1}`;
    const moved = clients.flatMap((c, i) => (nodeOf[i] === victim ? [i] : []));
    expect(moved.length).toBeGreaterThan(0);

    for (let n = 1; n <= BEFORE; n++) await publish(survivorUrl, n);
    await Promise.all(inboxes.map((b) => b.waitFor(BEFORE, 20_000)));

    const reconnected = moved.map((i) => nextEvent(clients[i]!, "connected", (h) => h.node !== victim, 30_000));
    process.kill(pids[victim]!, "SIGKILL");
    // Published while the victim's clients are away or on their way back.
    for (let n = BEFORE + 1; n <= BEFORE + AFTER; n++) await publish(survivorUrl, n);
    await Promise.all(reconnected);
    await Promise.all(inboxes.map((b) => b.waitFor(BEFORE + AFTER, 30_000)));

    const all = Array.from({ length: BEFORE + AFTER }, (_, k) => k + 1);
    for (const b of inboxes) expect(b.data.map((d) => d.n)).toEqual(all);
    for (const i of moved) expect(nodeOf[i]).not.toBe(victim);
    // The script noticed, said so, and kept the rest up.
    expect(out).toContain(`${victim} (pid ${pids[victim]}) exited; 2 node(s) still serving`);
    expect(cluster.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${lb}/health/ready`)).status).toBe(200);

    // Ctrl-C (SIGINT) stops everything the script started.
    process.kill(cluster.pid!, "SIGINT");
    await exited;
    for (const [name, pid] of Object.entries(pids)) {
      if (name === victim) continue;
      expect(() => process.kill(pid, 0), `${name} still running`).toThrow();
    }
  } finally {
    for (const c of clients) c.close();
    try {
      process.kill(-cluster.pid!, "SIGTERM");
    } catch {
      // already gone
    }
    await exited;
  }
}, 120_000);

