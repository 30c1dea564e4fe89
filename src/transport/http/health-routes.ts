import { Hono } from "hono";
import type { HealthCheck } from "../../observability/health.ts";
import type { Metrics } from "../../observability/metrics.ts";

/** /health, /health/live, /health/ready and /metrics (unauthenticated: meant for the orchestrator and Prometheus). */
export function healthRoutes(health: HealthCheck, metrics: Metrics): Hono {
  const r = new Hono();
  r.get("/health/live", (c) => c.json({ status: "ok" }));
  r.get("/health/ready", (c) => {
    const reason = health.notReadyReason();
    return reason === null ? c.json({ status: "ready" }) : c.json({ status: "unavailable", reason }, 503);
  });
  r.get("/health", (c) => {
    const report = health.report();
    return c.json(report, report.status === "down" ? 503 : 200);
  });
  r.get("/metrics", (c) => {
    metrics.channels.set(health.engineChannels());
    return c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  return r;
}
