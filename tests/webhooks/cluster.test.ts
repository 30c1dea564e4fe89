import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import { join } from "node:path";
import { startCluster, type TestCluster } from "../helpers/cluster.ts";
import { postgresBinDir } from "../helpers/postgres.ts";
import { token, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { tempConfig, verified } from "./support.ts";

const T = "district-w";
const SECRET = "cluster-endpoint-secret-0123456789";

describe("webhooks on 3 nodes (Redis + PostgreSQL)", () => {
  let cluster: TestCluster;
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof tempConfig>;
  let nodes: TestServer[] = [];
  /** Down: the receiver holds each request past the node's timeout, then answers 503 (the node has given up by then). */
  let down = false;
  /** 2xx answers per delivery id: what the backend accepted. */
  const accepted = new Map<string, number>();

  beforeAll(async () => {
    rx = startReceiver();
    rx.respond = (r) => {
      if (down) return new Promise<Response>((r) => setTimeout(() => r(new Response("down", { status: 503 })), 1500));
      const id = r.headers["x-switchboard-delivery"]!;
      accepted.set(id, (accepted.get(id) ?? 0) + 1);
      return new Response("ok");
    };
    // The endpoint comes from the config file: every node upserts the same one.
    cfg = tempConfig({
      namespaces: { room: { subscribe: ["tenant"], publish: ["tenant"], history: { size: 1000, ttlSec: 3600 } } },
      webhooks: [{ tenant: T, id: "backend", url: rx.url + "/hook", secret: SECRET, events: ["publication"], namespaces: ["room"], ratePerSec: 0 }],
    });
    cluster = await startCluster({
      name: "webhooks",
      env: {
        SWITCHBOARD_CONFIG: cfg.path,
        WEBHOOK_POLL_MS: "50",
        WEBHOOK_BACKOFF_MS: "100",
        WEBHOOK_ATTEMPTS: "100",
        WEBHOOK_TIMEOUT_MS: "1000",
        // The breaker would hold deliveries back at once; here they must be in flight when a node dies.
        WEBHOOK_BREAKER_FAILURES: "1000",
        WEBHOOK_BREAKER_COOLDOWN_MS: "200",
        DATABASE_TIMEOUT_MS: "2000",
      },
      // One at a time: the first node creates the schema.
      oneAtATime: true,
    });
    nodes = cluster.nodes;
  }, 90_000);
  afterAll(async () => {
    await cluster?.stop();
    rx?.stop();
    cfg?.cleanup();
  }, 30_000);

  const psql = async (sql: string): Promise<string> => {
    const p = Bun.spawn([join(postgresBinDir()!, "psql"), cluster.dbUrl, "-tAc", sql], { stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    if (code !== 0) throw new Error(`psql exited with ${code}`);
    return out.trim();
  };

  test("events published on all three nodes are each delivered once, also across a SIGKILL and restart of one node while the receiver is down", async () => {
    /** Acknowledged publications, by their `i`. */
    const acked = new Set<number>();
    let i = 0;
    const publishOn = async (n: TestServer) => {
      const k = i++;
      const res = await n.api("/v1/publish", { method: "POST", json: { tenant: T, ch: `room:${k % 4}`, ev: "note", data: { i: k } } });
      if (res.status === 200) acked.add(k);
    };
    // Phase 1, receiver up: HTTP publications round-robin, and a client's own on every node.
    for (let r = 0; r < 30; r++) await publishOn(nodes[r % 3]!);
    for (const n of nodes) {
      const c = (await TestClient.auth(n.wsUrl, await token({ sub: `nurse-${n.node}`, tenant: T }))).client;
      for (let r = 0; r < 3; r++) {
        const k = i++;
        if ((await c.request({ t: "pub", ch: "room:ws", ev: "note", data: { i: k } })).t === "ok") acked.add(k);
      }
      c.close();
    }
    // Phase 2, receiver down: deliveries are claimed and retried on every node.
    down = true;
    for (let r = 0; r < 30; r++) await publishOn(nodes[r % 3]!);
    const victim = nodes[1]!;
    // The victim dies holding leases: deliveries it claimed and is sending (the receiver holds them).
    const held = await until(async () => {
      const ids = (await psql(`SELECT id FROM webhook_deliveries WHERE state = 'pending' AND lease_owner LIKE '${victim.node}.${victim.proc.pid}#%'`)).split("\n").filter(Boolean);
      return ids.length > 0 ? ids : undefined;
    }, "the victim holding leased deliveries");
    victim.proc.kill("SIGKILL");
    await victim.exited;
    nodes = [nodes[0]!, nodes[2]!];
    for (let r = 0; r < 20; r++) await publishOn(nodes[r % 2]!);
    nodes.push(await cluster.startNode());
    for (let r = 0; r < 21; r++) await publishOn(nodes[r % 3]!);
    // Phase 3, receiver back: the backlog drains (the victim's leased deliveries included).
    down = false;
    for (let r = 0; r < 15; r++) await publishOn(nodes[r % 3]!);
    expect(acked.size).toBe(i);
    const deliveredI = () => {
      const out = new Map<number, Set<string>>();
      for (const x of rx.received) {
        const id = x.headers["x-switchboard-delivery"]!;
        if (!accepted.has(id)) continue;
        const k = x.json.data.data.i as number;
        if (!out.has(k)) out.set(k, new Set());
        out.get(k)!.add(id);
      }
      return out;
    };
    await until(async () => (deliveredI().size >= acked.size ? true : undefined), `all ${acked.size} events delivered`, 60_000);
    const got = deliveredI();
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([...acked].sort((a, b) => a - b));
    // One delivery per event (no node appended or sent it twice), and each accepted exactly once.
    for (const ids of got.values()) expect(ids.size).toBe(1);
    // What the dead node had claimed was taken over after its lease and delivered once.
    const allAccepted = new Set([...got.values()].flatMap((ids) => [...ids]));
    for (const id of held) expect(allAccepted.has(id)).toBe(true);
    for (const n of accepted.values()) expect(n).toBe(1);
    for (const x of rx.received.slice(0, 5)) expect(verified(SECRET, x)).toBe(true);
    // The log on any node agrees: nothing pending, nothing dead.
    const log = async (state: string) => (await (await nodes[0]!.api(`/v1/webhooks/backend/deliveries?tenant=${T}&state=${state}&limit=1000`)).json()).deliveries.length;
    await until(async () => ((await log("pending")) === 0 ? true : undefined), "nothing pending");
    expect(await log("delivered")).toBe(acked.size);
    expect(await log("dead")).toBe(0);
  }, 120_000);
});
