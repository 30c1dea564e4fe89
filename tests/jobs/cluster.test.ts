import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCluster, type TestCluster } from "../helpers/cluster.ts";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import type { TestServer } from "../helpers/server.ts";
import { configFile, createJob, untilJob } from "./support.ts";

const T = "district-9";

describe("jobs on 3 nodes (Redis + PostgreSQL)", () => {
  let cluster: TestCluster;
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof configFile>;
  let nodes: TestServer[] = [];
  const start3 = () => cluster.startNodes(3);

  beforeAll(async () => {
    rx = startReceiver();
    cfg = configFile();
    cluster = await startCluster({
      name: "jobs",
      env: { SWITCHBOARD_CONFIG: cfg.path, JOBS_POLL_MS: "100", JOBS_LEASE_MS: "1500", JOBS_MISSED_GRACE_MS: "500", DATABASE_TIMEOUT_MS: "2000" },
    });
    nodes = cluster.nodes;
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rx?.stop();
    cfg?.cleanup();
  }, 30_000);

  test("one-shot jobs due in 2 s fire exactly once across the 3 nodes", async () => {
    const at = new Date(Date.now() + 2000).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await createJob(nodes[i % 3]!, { tenant: T, at, action: { webhook: { url: rx.url + "/once", body: { i } } } })).id);
    for (const id of ids) await untilJob(nodes[0]!, T, id, (j) => j.state === "completed", `job ${id} completed`);
    const hits = rx.received.filter((r) => r.path === "/once");
    expect(hits.map((h) => h.json.i).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Fired at (not before) the due time.
    for (const h of hits) expect(h.atMs).toBeGreaterThanOrEqual(Date.parse(at));
    const stats = (await (await nodes[1]!.api(`/v1/jobs?tenant=${T}`)).json()).stats;
    expect(stats).toEqual([expect.objectContaining({ kind: "webhook", completed: 12, failed: 0, dead: 0, waiting: 0, active: 0 })]);
  }, 60_000);

  test("a job whose node is SIGKILLed mid-run is retried once by another node after the lease timeout", async () => {
    rx.respond = (r) => (r.path === "/kill" && r.headers["x-switchboard-attempt"] === "1" ? new Promise<Response>(() => {}) : new Response("ok"));
    const { id } = await createJob(nodes[0]!, { tenant: T, delayMs: 0, timeoutMs: 60_000, retry: { attempts: 3, backoffMs: 100 }, action: { webhook: { url: rx.url + "/kill" } } });
    await rx.waitFor(1, (r) => r.path === "/kill");
    const running = await untilJob(nodes[0]!, T, id, (j) => j.state === "active" && j.runningOn, "running");
    const victim = nodes.find((n) => running.runningOn === `${n.node}.${n.proc.pid}`)!;
    expect(victim).toBeDefined();
    victim.proc.kill("SIGKILL");
    await victim.exited;
    const survivor = nodes.find((n) => n !== victim)!;
    const done = await untilJob(survivor, T, id, (j) => j.state === "completed", "retried and completed");
    const hits = rx.received.filter((r) => r.path === "/kill");
    expect(hits.map((h) => h.headers["x-switchboard-attempt"])).toEqual(["1", "2"]);
    // Not retried before the lease (1.5 s) ran out.
    expect(hits[1]!.atMs - hits[0]!.atMs).toBeGreaterThanOrEqual(1400);
    expect(done.runs).toEqual({ completed: 1, failedAttempts: 1, dead: 0 });
    nodes = [...nodes.filter((n) => n !== victim), await cluster.startNode()];
  }, 60_000);

  test("a recurring job keeps its schedule across a restart of every node, and says it ran once for the missed runs", async () => {
    rx.respond = () => new Response("ok");
    const { id } = await createJob(nodes[2]!, { tenant: T, key: "med-round", everyMs: 1000, action: { webhook: { url: rx.url + "/every" } } });
    await rx.waitFor(2, (r) => r.path === "/every");
    await Promise.all(nodes.map((n) => n.stop()));
    const downAt = Date.now();
    // The scenario itself: the whole cluster stays down across at least two due times.
    await Bun.sleep(2500);
    nodes = await start3();
    const before = rx.received.filter((r) => r.path === "/every").length;
    await rx.waitFor(before + 2, (r) => r.path === "/every");
    const dues = rx.received.filter((r) => r.path === "/every").map((r) => Date.parse(r.json.due));
    // Every run is a distinct due time on the job's original one-second grid.
    expect(new Set(dues).size).toBe(dues.length);
    for (let i = 1; i < dues.length; i++) {
      expect(dues[i]!).toBeGreaterThan(dues[i - 1]!);
      expect((dues[i]! - dues[0]!) % 1000).toBe(0);
    }
    const j = await untilJob(nodes[0]!, T, id, (x) => x.runs.completed >= before + 2, "runs recorded");
    expect(j.note).toMatch(/^ran once for \d+ run\(s\) missed while the cluster was down/);
    expect(Date.parse(j.nextRun)).toBeGreaterThan(downAt);
    expect((Date.parse(j.nextRun) - dues[0]!) % 1000).toBe(0);
  }, 60_000);
});
