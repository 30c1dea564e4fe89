import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startCluster, type TestCluster } from "../helpers/cluster.ts";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import type { TestServer } from "../helpers/server.ts";
import { pdfText } from "../reports/pdf-text.ts";
import { configFile, createJob, untilJob } from "./support.ts";

const T = "district-7";

describe("cluster-wide concurrency per kind on 3 nodes (Redis + PostgreSQL)", () => {
  let cluster: TestCluster;
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof configFile>;
  let nodes: TestServer[] = [];
  /** Calls the receiver is answering right now, and the most ever at once. */
  let inflight = 0;
  let maxInflight = 0;
  const spans: { i: number; start: number; end: number }[] = [];

  beforeAll(async () => {
    rx = startReceiver();
    rx.respond = async (r) => {
      const start = Date.now();
      maxInflight = Math.max(maxInflight, ++inflight);
      // Long enough that every node has polled meanwhile: they all see due jobs while one runs.
      await Bun.sleep(150);
      inflight--;
      spans.push({ i: r.json.i, start, end: Date.now() });
      return new Response("ok");
    };
    cfg = configFile();
    cluster = await startCluster({
      name: "jobcap",
      env: {
        SWITCHBOARD_CONFIG: cfg.path,
        JOBS_POLL_MS: "50",
        // Each node alone would run 8 at once: only the cluster-wide limit keeps it to one.
        JOBS_CONCURRENCY: "8",
        JOBS_CLUSTER_CONCURRENCY: "webhook=1",
      },
    });
    nodes = cluster.nodes;
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    rx?.stop();
    cfg?.cleanup();
  }, 30_000);

  test("with webhook=1, twelve jobs due at once run one at a time across the cluster, each once", async () => {
    const at = new Date(Date.now() + 1500).toISOString();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await createJob(nodes[i % 3]!, { tenant: T, at, timeoutMs: 10_000, action: { webhook: { url: rx.url + "/capped", body: { i } } } })).id);
    for (const id of ids) await untilJob(nodes[i(id)]!, T, id, (j) => j.state === "completed", `job ${id} completed`, 40_000);
    expect(spans.map((s) => s.i).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(maxInflight).toBe(1);
    const ordered = [...spans].sort((a, b) => a.start - b.start);
    for (let k = 1; k < ordered.length; k++) expect(ordered[k]!.start).toBeGreaterThanOrEqual(ordered[k - 1]!.end);
    const stats = (await (await nodes[2]!.api(`/v1/jobs?tenant=${T}`)).json()).stats;
    expect(stats).toEqual([expect.objectContaining({ kind: "webhook", completed: 12, failed: 0, active: 0 })]);
    // The operator sees the limit where the queue reports.
    expect((await (await fetch(nodes[1]!.url + "/health")).json()).components.jobQueue.clusterConcurrency).toEqual({ webhook: 1 });
  }, 90_000);

  test("a report delivered to an inbox downloads from every node (the PDF is in the shared store)", async () => {
    const { id } = await createJob(nodes[0]!, { tenant: T, delayMs: 0, action: { report: { template: "custom", input: { title: "Ward 3 — night summary", sections: [{ type: "paragraph", text: "Quiet night; Trần Văn Hùng slept well." }] }, notify: { users: ["nurse-ana"] } } } });
    await untilJob(nodes[1]!, T, id, (j) => j.state === "completed", "report job completed", 60_000);
    const inbox = await (await nodes[2]!.api(`/v1/users/nurse-ana/notifications?tenant=${T}`)).json();
    const url: string = inbox.notifications[0].data.report.url;
    expect(url).toMatch(/^\/v1\/reports\/files\/rf_/);
    for (const n of nodes) {
      const res = await fetch(n.url + url);
      expect(res.status).toBe(200);
      expect(pdfText(new Uint8Array(await res.arrayBuffer())).replace(/\s+/g, " ")).toContain("Quiet night; Trần Văn Hùng slept well.");
    }
  }, 90_000);

  /** Any node answers for any job (shared store); spread the reads. */
  function i(id: string): number {
    return id.charCodeAt(id.length - 1) % 3;
  }
});
