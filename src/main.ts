import "./runtime/polyfills.ts";
import { Cron } from "croner";
import { DEV_CLAIMS, DEV_TENANT, signDevToken, type DevClaims } from "./config/dev-identity.ts";
import { devSecret } from "./config/dev-secrets.ts";
import { ConfigError, loadConfig, type Config } from "./config/load.ts";
import type { Engine } from "./engine/engine.ts";
import { LocalEngine } from "./engine/local/local-engine.ts";
import { ChannelPolicy } from "./hub/channel-policy.ts";
import { Hub } from "./hub/hub.ts";
import { systemClock } from "./hub/ports.ts";
import { ServerApi } from "./hub/server-api.ts";
import { watchParent } from "./process/parent-watch.ts";
import { superviseWorkers } from "./process/supervisor.ts";
import { startBackground } from "./process/background.ts";
import { fatal } from "./process/fatal.ts";
import { TokenVerifier } from "./hub/token-verifier.ts";
import { chatFeature } from "./features/chat/chat-feature.ts";
import { chatNamespace } from "./features/chat/chat-service.ts";
import { notificationsFeature } from "./features/notifications/notifications-feature.ts";
import { presenceFeature } from "./features/presence/presence-feature.ts";
import { callsFeature } from "./features/calls/calls-feature.ts";
import { reportFileRoutes } from "./transport/http/report-file-routes.ts";
import { SchemaTooNewError } from "./store/migrations.ts";
import type { Store } from "./store/ports.ts";
import { ReportRenderer } from "./reports/report-renderer.ts";
import { HealthCheck } from "./observability/health.ts";
import { createLogger, type Logger } from "./observability/logger.ts";
import { LoopLagMonitor } from "./observability/loop-lag.ts";
import { Metrics } from "./observability/metrics.ts";
import { ProcessMetrics } from "./observability/process-metrics.ts";
import { VERSION } from "./observability/build-info.ts";
import { ChannelRates, NodeStats } from "./observability/node-stats.ts";
import { serveAdmin } from "./transport/admin-server.ts";
import { createHttpApp } from "./transport/http/app.ts";
import { callRoutes } from "./transport/http/call-routes.ts";
import { chatRoutes } from "./transport/http/chat-routes.ts";
import { transcriptRoutes } from "./transport/http/report-routes.ts";
import { notificationRoutes } from "./transport/http/notification-routes.ts";
import { statusRoutes } from "./transport/http/status-routes.ts";
import { serve } from "./transport/ws-server.ts";
import type { Transport } from "./transport/port.ts";
import { nodeUnsupported } from "./runtime/node-limits.ts";

/** The transport: Bun.serve when Bun runs this file, uWebSockets.js when Node does (the only place that knows). */
async function loadTransport(): Promise<Transport> {
  if (typeof Bun !== "undefined") return (await import("./transport/bun-transport.ts")).bunTransport;
  return (await import("./transport/uws/uws-transport.ts")).uwsTransport;
}

/** The only place that knows the concrete engines. Redis is loaded only when configured. */
async function createEngine(config: Config, logger: Logger): Promise<Engine> {
  if (!config.redis) return new LocalEngine({ dataDir: config.dataDir, nodeId: config.nodeId, logger, channelIdleMs: config.channelIdleSec * 1000 });
  const { RedisEngine } = await import("./engine/redis/redis-engine.ts");
  return new RedisEngine({
    url: config.redis.url,
    clusterNodes: config.redis.clusterNodes,
    sentinels: config.redis.sentinels,
    sentinelName: config.redis.sentinelName,
    password: config.redis.password,
    tlsCa: config.redis.tlsCa,
    prefix: config.redis.prefix,
    nodeId: config.nodeId,
    shards: config.redis.shards,
    commandTimeoutMs: config.redis.commandTimeoutMs,
    presenceTtlSec: config.presenceTtlSec,
    streamMaxLen: config.redis.streamMaxLen,
    readBlockMs: 1000,
    readCount: 500,
    logger,
  });
}

/** The record store: PostgreSQL when DATABASE_URL is set, else SQLite in DATA_DIR (loaded only when used). */
async function createStore(config: Config): Promise<Store> {
  if (config.database) {
    const { PostgresStore } = await import("./store/postgres/postgres-store.ts");
    return new PostgresStore({ url: config.database.url, timeoutMs: config.database.timeoutMs, poolSize: config.database.poolSize });
  }
  const { SqliteStore } = await import("./store/sqlite/sqlite-store.ts");
  return new SqliteStore(config.dataDir);
}

async function startStore(config: Config, logger: Logger, metrics: Metrics): Promise<Store> {
  const store = await createStore(config);
  try {
    await store.start();
  } catch (err) {
    if (err instanceof SchemaTooNewError) fatal(err.message);
    fatal(`cannot start the ${store.kind} record store: ${(err as Error).message}`);
  }
  metrics.storeUp.set(1);
  store.onAvailability((up, reason) => {
    metrics.storeUp.set(up ? 1 : 0);
    logger[up ? "info" : "warn"]("record store availability changed", { up, reason });
  });
  return store;
}

function devToken(config: Config, claims: DevClaims): Promise<string> {
  return signDevToken(config.jwt.secret!, claims);
}

/** Bun.serve's start-up failures as one line saying what to do; undefined for anything unexpected. */
function listenProblem(config: Config, err: unknown): string | undefined {
  const e = err as { code?: string; message?: string };
  const where = `${config.host}:${config.port}`;
  if (e.code === "EADDRINUSE") {
    return `cannot listen on ${where}: the port is already in use (another Switchboard or another program); stop it, or start with another PORT (PORT=0 picks a free one)`;
  }
  if (e.code === "EACCES") return `cannot listen on ${where}: permission denied; ports below 1024 need privileges, pick another PORT`;
  if (e.code === "EADDRNOTAVAIL") return `cannot listen on ${where}: HOST ${config.host} is not an address of this machine`;
  if (config.tls) {
    return `cannot serve TLS with TLS_CERT_FILE=${config.tls.certFile} and TLS_KEY_FILE=${config.tls.keyFile} (${e.message ?? String(err)}); they must be a PEM certificate and its PEM private key`;
  }
  return undefined;
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) fatal(err.message);
    throw err;
  }
  try {
    new Cron(config.historyTrimCron, { paused: true }).stop();
  } catch (err) {
    fatal(`invalid configuration: HISTORY_TRIM_CRON: ${(err as Error).message}`);
  }
  const logger = createLogger(config.logLevel, { node: config.nodeId });
  const transport = await loadTransport();
  if (transport.name === "uws") {
    const unsupported = nodeUnsupported(config);
    if (unsupported) fatal(unsupported);
  }
  for (const alias of config.aliasesApplied) logger.warn(`configuration alias: ${alias}`);
  if (config.workers > 1) {
    await superviseWorkers({ workers: config.workers, nodeId: config.nodeId, host: config.host, port: config.port, drainDeadlineMs: config.drain.deadlineMs, entry: import.meta.path, logger });
  }
  if (config.apiKeys.length === 0) {
    config.apiKeys = [devSecret(config.dataDir, "api-key")];
    logger.warn("no API_KEYS set; using a development API key kept in DATA_DIR/dev-api-key");
  }
  if (config.jwt.generated) logger.warn("no JWT key configured; using a development secret kept in DATA_DIR/dev-jwt-secret (never in production)");
  if (config.env === "production" && !config.corsOrigins) logger.warn("CORS_ORIGINS is not set: browsers from any origin may connect");

  const metrics = new Metrics();
  const clock = systemClock;
  const policy = new ChannelPolicy(config.namespaces);
  logger.info("channel policy", { namespaces: Object.keys(config.namespaces) });
  const verifier = new TokenVerifier({
    secret: config.jwt.secret,
    publicKey: config.jwt.publicKey,
    algorithm: config.jwt.algorithm,
    jwksUrl: config.jwt.jwksUrl,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    requireExp: config.env === "production",
    claimNames: policy.claimNames(),
  });

  let engine = await createEngine(config, logger);
  const hub = new Hub({ config, engine, verifier, policy, metrics, logger, clock });
  // The admin dashboard's per-channel rates count deliveries; without the dashboard the hub is the sink itself.
  const channelRates = config.adminDashboardKey ? new ChannelRates() : undefined;
  const sink = channelRates ? channelRates.wrap(hub) : hub;
  try {
    await engine.start(sink);
  } catch (err) {
    if (engine.kind !== "redis" || config.env === "production" || config.redis?.required) {
      fatal(`cannot start the ${engine.kind} engine: ${(err as Error).message}`);
    }
    logger.error("REDIS UNREACHABLE: falling back to the embedded engine (single node, no cross-node delivery). Fix REDIS_URL before production.", { err });
    await engine.stop().catch(() => {});
    engine = new LocalEngine({ dataDir: config.dataDir, nodeId: config.nodeId, logger, channelIdleMs: config.channelIdleSec * 1000 });
    hub.deps.engine = engine;
    await engine.start(sink);
  }

  const reports = new ReportRenderer({ ...config.reports, logger });
  const store = await startStore(config, logger, metrics);
  const presence = presenceFeature(hub, store);
  hub.register(presence.feature);
  const featureRoutes = [statusRoutes(presence.status, logger)];
  let chatNs: string | undefined;
  let conversations: { conversation: typeof store.conversation; messages: ReturnType<typeof chatFeature>["service"]["messages"] } | undefined;
  try {
    chatNs = chatNamespace(config.namespaces);
  } catch (err) {
    fatal(`invalid configuration:\n  namespaces: ${(err as Error).message}`);
  }
  if (chatNs) {
    const chat = chatFeature(hub, store, chatNs);
    hub.register(chat.feature);
    conversations = { conversation: (t, id) => store.conversation(t, id), messages: (t, id, before, n) => chat.service.messages(t, id, before, n) };
    featureRoutes.push(chatRoutes(chat.service, logger), transcriptRoutes(chat.service, reports, logger, { maxInputBytes: config.reports.maxInputBytes, retention: config.namespaces[chatNs]!.retention }));
  }
  const inbox = notificationsFeature(hub, store, config.notificationRetentionDays);
  hub.register(inbox.feature);
  featureRoutes.push(notificationRoutes(inbox.service, logger));
  const calls = callsFeature(hub, store, inbox.service, config.calls);
  hub.register(calls.feature);
  featureRoutes.push(callRoutes(calls.service, store, config.calls.ice, logger));
  calls.service.start();
  const api = new ServerApi(hub);
  const { breakers, webhooks, deliveries, jobs, routes } = await startBackground({ config, hub, engine, store, api, inbox, calls, reports, chatNs, conversations, clock, metrics, logger });
  featureRoutes.push(...routes);
  const lag = new LoopLagMonitor(500, (ms) => metrics.eventLoopLag.set(ms / 1000));
  lag.start();
  const health = new HealthCheck(hub, engine, lag, store, { jobQueue: jobs.health, externalAPIs: breakers.report });

  const processMetrics = new ProcessMetrics();
  processMetrics.start();
  const httpDeps = {
    tls: config.tls !== undefined,
    api,
    reports,
    health,
    metrics,
    logger,
    apiKeys: config.apiKeys,
    corsOrigins: config.corsOrigins,
    trustProxy: config.trustProxy,
    maxBodyBytes: config.ws.maxMessageSize,
    featureRoutes,
    featureRateLimit: config.featureRateLimit,
    publicRoutes: [reportFileRoutes(store.reportFiles, logger, () => clock.now())],
  };
  const metricsOptions = { processMetrics, metricsKey: config.metricsKey, environment: config.env };
  const nodeStats = config.adminDashboardKey ? new NodeStats({ nodeId: config.nodeId, version: VERSION, metrics, health, engine: () => engine, rates: channelRates! }) : undefined;
  nodeStats?.start();
  // The dashboard goes where /metrics goes: the internal port when there is one.
  const adminDashboard = nodeStats && { key: config.adminDashboardKey!, stats: nodeStats, api, logger };
  const app = createHttpApp({ ...httpDeps, healthOptions: { ...metricsOptions, serveMetrics: !config.admin }, admin: config.admin ? undefined : adminDashboard, extend: await demoExtension(config) });
  let server: ReturnType<typeof serve>;
  try {
    server = serve({ config, hub, verifier, app, logger, transport, onForcedGc: (sec) => processMetrics.forcedGc.observe(sec) });
  } catch (err) {
    const problem = listenProblem(config, err);
    if (problem) fatal(problem);
    throw err;
  }
  hub.attach(server);
  const admin = config.admin && serveAdmin({ ...config.admin, app: createHttpApp({ ...httpDeps, healthOptions: metricsOptions, admin: adminDashboard }), logger, transport });
  // Signal handlers go in before "listening" is announced: a SIGTERM right after it must drain, not kill.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = config.drain.deadlineMs;
    logger.info("draining", { signal, deadlineMs: deadline });
    const hard = setTimeout(() => {
      logger.error("drain deadline passed; exiting");
      process.exit(0);
    }, deadline);
    hard.unref();
    // Jobs stop first: their publications must not meet a draining hub. A job still running is retried elsewhere after its lease.
    await jobs.runner.stop(Math.min(2000, deadline / 4));
    webhooks.stop();
    await hub.drain(Math.max(50, deadline - 500));
    calls.service.stop();
    reports.stop();
    lag.stop();
    processMetrics.stop();
    await nodeStats?.stop();
    await deliveries.stop();
    await engine.stop().catch((err) => logger.warn("engine stop failed", { err }));
    await store.stop().catch((err) => logger.warn("record store stop failed", { err }));
    server.stop(true);
    admin?.stop(true);
    logger.info("stopped", { signal });
    process.exit(0);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  if (config.exitWithParent) {
    watchParent((parent) => {
      logger.warn("parent process exited; draining as on SIGTERM", { parent });
      void shutdown("parent-exit");
    });
  }
  const scheme = config.tls ? "https" : "http";
  logger.info("listening", { port: server.port, host: config.host, engine: engine.kind, store: store.kind, transport: transport.name, env: config.env, url: `${scheme}://${config.host}:${server.port}` });

  if (config.env === "development" && config.jwt.generated) {
    await printDevTour(config, server.port ?? config.port);
  }
}

/**
 * The demo page hands out tokens to anyone, so it exists only on a development
 * node running on its generated dev secret: never once a real key is set,
 * whatever NODE_ENV says.
 */
async function demoExtension(config: Config): Promise<((app: import("hono").Hono) => void) | undefined> {
  if (config.env === "production" || !config.jwt.generated) return undefined;
  const demo = await import("./transport/http/demo.ts").catch(() => undefined);
  if (!demo) return undefined;
  return (app) => demo.mountDemo(app, { tenant: DEV_TENANT, apiKey: config.apiKeys[0]!, mintDevToken: (claims) => devToken(config, { ...claims, tenant: DEV_TENANT }) });
}

async function printDevTour(config: Config, port: number): Promise<void> {
  const token = await devToken(config, DEV_CLAIMS);
  const base = `http://localhost:${port}`;
  const portEnv = port === 8080 ? "" : `PORT=${port} `;
  process.stdout.write(
    [
      "",
      "Switchboard is running in development mode.",
      `  demo page:   ${base}/demo`,
      `  health:      ${base}/health`,
      `  dev token (alice @ ${DEV_TENANT}, role nurse, room lobby; valid 12 h; npm run -s token mints it again):`,
      `    ${token}`,
      "  try it, in a second terminal:",
      `    ${portEnv}npm run -s listen -- room:lobby`,
      "  and in a third:",
      `    curl -X POST ${base}/v1/publish -H "authorization: Bearer ${config.apiKeys[0]}" \\`,
      `      -H "content-type: application/json" -d '{"tenant":"${DEV_TENANT}","ch":"room:lobby","ev":"hello","data":{"text":"hi"}}'`,
      "",
    ].join("\n") + "\n",
  );
}

await main();
