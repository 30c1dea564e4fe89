import { Hono } from "hono";
import { VERSION } from "../../observability/build-info.ts";
import type { HealthCheck } from "../../observability/health.ts";
import type { Metrics } from "../../observability/metrics.ts";
import type { ProcessMetrics } from "../../observability/process-metrics.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { bearerMatches } from "./bearer-key.ts";

export interface HealthRouteOptions {
  processMetrics?: ProcessMetrics;
  /** False on the public port when ADMIN_PORT serves /metrics instead. */
  serveMetrics?: boolean;
  /** METRICS_KEY: /metrics then needs `Authorization: Bearer <key>`. */
  metricsKey?: string;
  environment?: string;
}

/** /health, /health/live, /health/ready (for the orchestrator) and /metrics (Prometheus). */
export function healthRoutes(health: HealthCheck, metrics: Metrics, opts: HealthRouteOptions = {}): Hono {
  const r = new Hono();
  r.get("/health/live", (c) => c.json({ status: "ok" }));
  r.get("/health/ready", (c) => {
    const reason = health.notReadyReason();
    return reason === null ? c.json({ status: "ready" }) : c.json({ status: "unavailable", reason }, 503);
  });
  r.get("/health", (c) => {
    const report = health.report();
    return c.json({ ...report, version: VERSION, environment: opts.environment, timestamp: new Date().toISOString() }, report.status === "down" ? 503 : 200);
  });
  if (opts.serveMetrics === false) return r;
  const key = opts.metricsKey ? Buffer.from(opts.metricsKey) : undefined;
  r.get("/metrics", async (c) => {
    if (key && !bearerMatches(c.req.header("authorization"), key)) throw new SwitchboardError("AUTHENTICATION_FAILED", "/metrics needs Authorization: Bearer <METRICS_KEY>");
    metrics.channels.set(health.engineChannels());
    metrics.draining.set(health.draining() ? 1 : 0);
    const text = metrics.render() + ((await opts.processMetrics?.render()) ?? "");
    return c.body(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  return r;
}
