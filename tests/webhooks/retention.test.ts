import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startReceiver, type HttpReceiver } from "../helpers/http-receiver.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { until } from "../helpers/until.ts";
import { tempConfig } from "./support.ts";

const T = "clinic-r";

describe("retention of finished deliveries", () => {
  let rx: HttpReceiver;
  let cfg: ReturnType<typeof tempConfig>;
  let s: TestServer;
  const ids: Record<string, string> = {};
  const log = async (hook: string, state?: string) =>
    (await (await s.api(`/v1/webhooks/${ids[hook]}/deliveries?tenant=${T}${state ? `&state=${state}` : ""}`)).json()).deliveries as any[];

  beforeAll(async () => {
    rx = startReceiver();
    rx.respond = (r) => (r.path === "/ok" ? new Response("ok") : r.path === "/dead" ? new Response("no", { status: 400 }) : new Promise<Response>(() => {}));
    cfg = tempConfig({ namespaces: { room: { subscribe: ["tenant"], publish: ["tenant"], history: { size: 10, ttlSec: 3600 } } } });
    // One attempt: a 400 is dead at once. A hanging endpoint keeps its delivery pending (in flight) for the whole test.
    s = await startServer({
      env: { SWITCHBOARD_CONFIG: cfg.path, WEBHOOK_POLL_MS: "50", WEBHOOK_ATTEMPTS: "1", WEBHOOK_TIMEOUT_MS: "120000", WEBHOOK_RETENTION_SEC: "3", HISTORY_TRIM_CRON: "* * * * * *", DRAIN_DEADLINE_MS: "2000" },
    });
    for (const hook of ["ok", "dead", "hang"]) {
      ids[hook] = (await (await s.api("/v1/webhooks", { method: "POST", json: { tenant: T, url: `${rx.url}/${hook}`, events: ["publication"], namespaces: ["room"] } })).json()).id;
    }
  }, 30_000);
  afterAll(async () => {
    await s?.stop();
    rx?.stop();
    cfg?.cleanup();
  }, 30_000);

  test("delivered and dead deliveries leave the log after WEBHOOK_RETENTION_SEC, once per cluster by a built-in job; pending ones stay", async () => {
    for (const i of [1, 2]) expect((await s.api("/v1/publish", { method: "POST", json: { tenant: T, ch: "room:a", ev: "note", data: { i } } })).status).toBe(200);
    // First the log holds them: two delivered, two dead, two pending.
    await until(async () => ((await log("ok", "delivered")).length === 2 && (await log("dead", "dead")).length === 2 ? true : undefined), "delivered and dead");
    expect((await log("dead"))[0]).toMatchObject({ state: "dead", lastStatus: 400 });
    await rx.waitFor(2, (r) => r.path === "/hang");
    expect((await log("hang")).map((d) => d.state)).toEqual(["pending", "pending"]);
    // Then the retention job deletes the finished ones.
    await until(async () => ((await log("ok")).length === 0 && (await log("dead")).length === 0 ? true : undefined), "finished deliveries purged", 20_000);
    expect((await log("hang")).map((d) => d.state)).toEqual(["pending", "pending"]);
    const job = (await (await s.api("/v1/jobs")).json()).jobs.find((j: any) => j.name === "webhook-retention");
    expect(job).toMatchObject({ key: "builtin:webhook-retention", kind: "builtin", schedule: { cron: "* * * * * *" } });
    expect(job.runs.completed).toBeGreaterThan(0);
  }, 60_000);

  test("WEBHOOK_RETENTION_SEC=0 keeps everything: no retention job", async () => {
    const kept = await startServer({ env: { SWITCHBOARD_CONFIG: cfg.path, WEBHOOK_RETENTION_SEC: "0" } });
    try {
      const jobs = (await (await kept.api("/v1/jobs")).json()).jobs.map((j: any) => j.name);
      expect(jobs).toContain("history-trim");
      expect(jobs).not.toContain("webhook-retention");
    } finally {
      await kept.stop();
    }
  }, 30_000);
});
