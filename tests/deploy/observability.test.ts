import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, token, type TestServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { read, yamlDocs } from "./support.ts";

/** Every metric the shipped dashboard and alert rules query is one a live node exports. */

let s: TestServer;
let exported: Set<string>;
beforeAll(async () => {
  s = await startServer();
  // Some traffic, so that labelled series exist too.
  const { client } = await TestClient.auth(s.wsUrl, await token({ sub: "obs", rooms: ["obs"] }));
  await client.request({ t: "sub", ch: "room:obs" });
  await client.request({ t: "pub", ch: "room:obs", ev: "e", data: 1 });
  const text = await (await fetch(s.url + "/metrics")).text();
  exported = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    exported.add(m[1]!);
    if (m[2] === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) exported.add(m[1]! + suffix);
  }
  client.ws.close();
}, 60_000);
afterAll(async () => {
  await s?.stop();
}, 60_000);

/** Metric names in a PromQL expression: identifiers before `{`, `[`, `)` etc. that are ours or process_*. */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:switchboard|process)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

test("Prometheus alert rules: parse, each rule complete, every metric exported", () => {
  const doc = yamlDocs("deploy/observability/prometheus-alerts.yaml")[0];
  const rules = doc.groups.flatMap((g: any) => g.rules);
  const names = rules.map((r: any) => r.alert);
  for (const wanted of ["SwitchboardNodeDown", "SwitchboardEngineDown", "SwitchboardBackpressureCloses", "SwitchboardServerErrors", "SwitchboardEventLoopLag", "SwitchboardDrainStuck"]) {
    expect(names).toContain(wanted);
  }
  for (const r of rules) {
    expect(typeof r.expr, r.alert).toBe("string");
    expect(["critical", "warning"]).toContain(r.labels.severity);
    expect(r.annotations.summary.length).toBeGreaterThan(0);
    for (const m of metricsIn(r.expr)) expect(exported.has(m), `${r.alert}: ${m}`).toBe(true);
  }
  const scrape = yamlDocs("deploy/observability/prometheus.yml")[0];
  expect(scrape.rule_files).toEqual(["prometheus-alerts.yaml"]);
  expect(scrape.scrape_configs[0].job_name).toBe("switchboard");
  expect(scrape.scrape_configs[0].metrics_path).toBe("/metrics");
});

test("Grafana dashboard: valid JSON, every panel queries metrics a node exports", () => {
  const dash = JSON.parse(read("deploy/observability/grafana-dashboard.json"));
  expect(dash.panels.length).toBeGreaterThan(10);
  const used = new Set<string>();
  for (const p of dash.panels) {
    expect(p.targets.length, p.title).toBeGreaterThan(0);
    for (const t of p.targets) {
      const ms = metricsIn(t.expr);
      expect(ms.length + (t.expr.includes("up{") ? 1 : 0), `${p.title}: ${t.expr}`).toBeGreaterThan(0);
      for (const m of ms) {
        expect(exported.has(m), `${p.title}: ${m}`).toBe(true);
        used.add(m);
      }
    }
  }
  // The figures the issue asks to watch are on it.
  for (const m of ["switchboard_connections", "process_resident_memory_bytes", "process_open_fds", "switchboard_event_loop_delay_seconds_bucket", "switchboard_publish_duration_seconds_bucket"]) {
    expect(used.has(m), m).toBe(true);
  }
});
