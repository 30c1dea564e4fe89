import type { Server } from "bun";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import type { ServerApi } from "../../hub/server-api.ts";
import type { HealthCheck } from "../../observability/health.ts";
import type { Logger } from "../../observability/logger.ts";
import type { Cell, Metrics } from "../../observability/metrics.ts";
import type { ReportRenderer } from "../../reports/report-renderer.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import { clientAddressResolver } from "../client-address.ts";
import { mountAdmin, type AdminDeps } from "./admin/admin-routes.ts";
import { requireApiKey } from "./api-key.ts";
import { apiRoutes } from "./api-routes.ts";
import { errorResponse, toHttpError } from "./errors.ts";
import { featureRateLimit, type FeatureRateLimitOptions } from "./feature-rate-limit.ts";
import { healthRoutes, type HealthRouteOptions } from "./health-routes.ts";
import { reportRoutes } from "./report-routes.ts";
import { securityHeaders } from "./security-headers.ts";

export interface HttpAppDeps {
  api: ServerApi;
  reports: ReportRenderer;
  health: HealthCheck;
  metrics: Metrics;
  logger: Logger;
  apiKeys: readonly string[];
  corsOrigins: readonly string[] | undefined;
  /** TRUST_PROXY: balancers whose X-Forwarded-For/Forwarded name the client in audit lines. */
  trustProxy?: readonly string[];
  maxBodyBytes: number;
  /** Served over TLS: answers carry HSTS. */
  tls?: boolean;
  /** Features' server API routes, mounted under /v1 behind the API key. */
  featureRoutes?: readonly Hono<{ Variables: { apiKey: number } }>[];
  /** Token bucket per API key on the feature routes (HTTP_FEATURE_RATE_LIMIT_*); absent = none. */
  featureRateLimit?: FeatureRateLimitOptions;
  /** /metrics placement and access, process metrics, the environment /health reports. */
  healthOptions?: HealthRouteOptions;
  /** The admin dashboard (ADMIN_DASHBOARD_KEY), when this app serves it. */
  admin?: AdminDeps;
  /** Routes under /v1 that carry their own credential instead of the API key (report download links). */
  publicRoutes?: readonly Hono[];
  /** Extra routes (the development demo page). */
  extend?: (app: Hono) => void;
}

/** The Hono app for everything on the port that is not the WebSocket endpoint. */
export function createHttpApp(d: HttpAppDeps): Hono {
  const app = new Hono();
  app.use("*", securityHeaders(d.tls ?? false));
  if (d.corsOrigins) {
    const allowed = new Set(d.corsOrigins);
    app.use("*", cors({ origin: (origin) => (allowed.has(origin) ? origin : null), allowHeaders: ["authorization", "content-type"] }));
    app.use("*", async (c, next) => {
      const origin = c.req.header("origin");
      if (origin && !allowed.has(origin)) throw new SwitchboardError("AUTHORIZATION_FAILED", "origin is not allowed");
      await next();
    });
  } else {
    // CORS headers only mean something to browsers, which always send Origin;
    // backends calling the API skip the middleware.
    const anyOrigin = cors();
    app.use("*", (c, next) => (c.req.raw.headers.has("origin") ? anyOrigin(c, next) : next()));
  }
  // One counter cell per route and status, looked up without building label text per request.
  const cells = new Map<string, Map<number, Cell>>();
  app.use("*", async (c, next) => {
    await next();
    const route = c.req.routePath;
    const status = c.res.status;
    let byStatus = cells.get(route);
    if (!byStatus) cells.set(route, (byStatus = new Map()));
    let cell = byStatus.get(status);
    if (!cell) byStatus.set(status, (cell = d.metrics.httpRequests.cell({ route, status: String(status) })));
    cell.value++;
  });
  app.route("/", healthRoutes(d.health, d.metrics, d.healthOptions));
  // Before the /v1 sub-app: its API-key middleware must not run for them.
  for (const routes of d.publicRoutes ?? []) app.route("/", routes);
  const clientAddress = clientAddressResolver(d.trustProxy);
  const v1 = new Hono<{ Variables: { apiKey: number; ip: string | undefined } }>();
  v1.use("*", (c, next) => {
    c.set("ip", clientAddress((c.env as { server?: Server<unknown> } | undefined)?.server?.requestIP(c.req.raw)?.address, c.req.raw.headers));
    return next();
  });
  v1.use("*", requireApiKey(d.apiKeys));
  v1.use("*", bodyLimit({ maxSize: d.maxBodyBytes, onError: () => { throw new SwitchboardError("MESSAGE_TOO_LARGE", `request body is larger than ${d.maxBodyBytes} bytes`); } }));
  v1.route("/", apiRoutes(d.api, d.logger));
  v1.route("/", reportRoutes(d.api, d.reports, d.logger, d.reports.opts.maxInputBytes));
  if (d.featureRateLimit && d.featureRateLimit.perSec > 0) {
    // Per route path, not "*": the core API (publish, history…) stays outside this budget.
    const limit = featureRateLimit(d.featureRateLimit);
    const paths = new Set((d.featureRoutes ?? []).flatMap((routes) => routes.routes.map((r) => r.path)).filter((p) => !p.includes("*")));
    for (const path of paths) v1.use(path, limit);
  }
  for (const routes of d.featureRoutes ?? []) v1.route("/", routes);
  app.route("/v1", v1);
  if (d.admin) mountAdmin(app, d.admin);
  d.extend?.(app);
  app.notFound(() => errorResponse(new SwitchboardError("RESOURCE_NOT_FOUND", "no such route")));
  app.onError((err, c) => {
    const e = toHttpError(err);
    if (e.code === "INTERNAL_ERROR") d.logger.error("http request failed", { err, path: c.req.path });
    if (e.code === "AUTHENTICATION_FAILED") d.logger.audit("api_auth_failure", { reason: e.message, path: c.req.path, ip: (c.get as (k: string) => unknown)("ip") });
    d.metrics.errors.inc({ code: e.code });
    return errorResponse(e);
  });
  return app;
}
