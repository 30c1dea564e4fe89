import { expect, test } from "bun:test";
import { startServer, TEST_API_KEY, type TestServer } from "../helpers/server.ts";

function series(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  if (!line) throw new Error(`no series ${name}`);
  return Number(line.slice(name.length + 1));
}

function adminPort(s: TestServer): number {
  const line = s.logs.find((l) => l.msg === "admin listening");
  if (!line) throw new Error("no admin listening line");
  return line.port as number;
}

test("/metrics has process figures that match the process, and an event-loop delay histogram", async () => {
  const s = await startServer();
  try {
    const text = await (await fetch(s.url + "/metrics")).text();
    const status = await Bun.file(`/proc/${s.proc.pid}/status`).text();
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
    // Same process, moments apart: within a factor of two of the kernel's figure.
    expect(series(text, "process_resident_memory_bytes")).toBeGreaterThan(rssKb * 1024 * 0.5);
    expect(series(text, "process_resident_memory_bytes")).toBeLessThan(rssKb * 1024 * 2);
    const limits = await Bun.file(`/proc/${s.proc.pid}/limits`).text();
    expect(series(text, "process_max_fds")).toBe(Number(/Max open files\s+(\d+)/.exec(limits)![1]));
    expect(series(text, "process_open_fds")).toBeGreaterThan(3);
    expect(series(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(series(text, "process_heap_bytes")).toBeGreaterThan(0);
    expect(Math.abs(series(text, "process_start_time_seconds") - Date.now() / 1000)).toBeLessThan(600);
    expect(text).toContain("# TYPE switchboard_event_loop_delay_seconds histogram");
    expect(text).toMatch(/^switchboard_event_loop_delay_seconds_bucket\{le="\+Inf"\} \d+$/m);
    expect(series(text, "switchboard_draining")).toBe(0);
  } finally {
    await s.stop();
  }
}, 30_000);

test("/health reports version, environment and timestamp", async () => {
  const s = await startServer();
  try {
    const body = (await (await fetch(s.url + "/health")).json()) as Record<string, unknown>;
    const pkg = (await Bun.file(new URL("../../package.json", import.meta.url)).json()) as { version: string };
    expect(body.version).toBe(pkg.version);
    expect(body.environment).toBe("test");
    expect(Math.abs(Date.parse(body.timestamp as string) - Date.now())).toBeLessThan(60_000);
    expect(body.status).toBe("ok");
  } finally {
    await s.stop();
  }
}, 30_000);

test("ADMIN_PORT: /metrics moves to the internal port, which also serves health and the server API", async () => {
  const s = await startServer({ env: { ADMIN_PORT: "0", ADMIN_HOST: "127.0.0.1", ADMIN_DASHBOARD_KEY: "dashboard-key-0123456789" } });
  try {
    const admin = `http://127.0.0.1:${adminPort(s)}`;
    expect((await fetch(s.url + "/metrics")).status).toBe(404);
    const m = await fetch(admin + "/metrics");
    expect(m.status).toBe(200);
    expect(await m.text()).toContain("switchboard_connections ");
    expect((await fetch(admin + "/health/ready")).status).toBe(200);
    // The dashboard goes with /metrics.
    expect((await fetch(s.url + "/admin")).status).toBe(404);
    expect((await fetch(admin + "/admin")).status).toBe(200);
    expect((await fetch(admin + "/admin/api/stream", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    const pub = await fetch(admin + "/v1/publish", {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ ch: "user:x", ev: "e", data: 1 }),
    });
    expect(pub.status).toBe(200);
    // The API key is still required there.
    expect((await fetch(admin + "/v1/publish", { method: "POST", body: "{}" })).status).toBe(401);
    // Public health stays where orchestrators look for it.
    expect((await fetch(s.url + "/health/live")).status).toBe(200);
    expect(await s.stop()).toBe(0);
    expect(await fetch(admin + "/health/live").then(() => "up", () => "closed")).toBe("closed");
  } finally {
    await s.stop();
  }
}, 30_000);

test("METRICS_KEY: /metrics needs the key", async () => {
  const key = "metrics-key-0123456789";
  const s = await startServer({ env: { METRICS_KEY: key } });
  try {
    const denied = await fetch(s.url + "/metrics");
    expect(denied.status).toBe(401);
    expect(((await denied.json()) as any).error.code).toBe("AUTHENTICATION_FAILED");
    expect((await fetch(s.url + "/metrics", { headers: { authorization: `Bearer ${TEST_API_KEY}` } })).status).toBe(401);
    const ok = await fetch(s.url + "/metrics", { headers: { authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain("process_open_fds ");
  } finally {
    await s.stop();
  }
}, 30_000);
