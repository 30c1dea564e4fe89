import type { CallsConfig } from "../features/calls/calls-feature.ts";
import * as v from "valibot";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { applyAliases } from "./aliases.ts";
import { noFile, readConfigFile, type FileValues, type Source } from "./config-file.ts";
import { devSecret } from "./dev-secrets.ts";
import { DEFAULT_NAMESPACES, NamespacesSchema, policyProblems, type Namespaces } from "./policy.ts";
import { SETTINGS, type SettingKey, type Settings } from "./settings.ts";
import { JobSpecSchema, type JobSpec } from "../jobs/job-spec.ts";
import { checkSocketIo, defaultSocketIo, SocketIoSchema, type SocketIoConfig } from "./socketio.ts";
import { parseStaticWebhooks, webhookNamespaceProblems, webhooksConfig, type WebhooksConfig } from "./webhooks.ts";

/** The one typed configuration object, built once at start-up. */
export interface Config {
  env: "development" | "production" | "test";
  host: string;
  port: number;
  nodeId: string;
  logLevel: "debug" | "info" | "warn" | "error";
  tls: { certFile: string; keyFile: string } | undefined;
  jwt: {
    secret: string | undefined;
    publicKey: string | undefined;
    algorithm: "RS256" | "ES256";
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
    expiryWarningSec: number;
    /** True when no key was configured and a dev secret (kept in DATA_DIR) is used. */
    generated: boolean;
  };
  apiKeys: string[];
  corsOrigins: string[] | undefined;
  /** Balancers whose forwarding headers are believed (TRUST_PROXY); undefined = none. */
  trustProxy: string[] | undefined;
  dataDir: string;
  ws: {
    authTimeoutMs: number;
    maxConnectionsPerUser: number;
    maxGlobalConnections: number;
    upgradesPerIpPerSec: number;
    maxUnauthenticatedPerIp: number;
    maxSubscriptions: number;
    rateLimitPerSec: number;
    rateLimitBurst: number;
    maxMessageSize: number;
    backpressureLimit: number;
    idleTimeoutSec: number;
    maxErrorsPerMin: number;
  };
  /** Token bucket per API key on the feature routes under /v1. */
  featureRateLimit: { perSec: number; burst: number };
  drain: { deadlineMs: number; reconnectMaxMs: number };
  exitWithParent: boolean;
  admin: { port: number; host: string } | undefined;
  metricsKey: string | undefined;
  adminDashboardKey: string | undefined;
  /** Processes on this node sharing the port (a supervisor starts them when > 1). */
  workers: number;
  /** Bun.serve `reusePort` (SO_REUSEPORT). */
  reusePort: boolean;
  historyTrimCron: string;
  channelIdleSec: number;
  redis:
    | {
        url: string | undefined;
        clusterNodes: string[] | undefined;
        sentinels: string[] | undefined;
        sentinelName: string | undefined;
        password: string | undefined;
        /** Contents of REDIS_TLS_CA_FILE. */
        tlsCa: string | undefined;
        prefix: string;
        shards: number;
        commandTimeoutMs: number;
        streamMaxLen: number;
        /** Asked for explicitly (REDIS_ENABLED=true): no embedded fallback when unreachable. */
        required: boolean;
      }
    | undefined;
  presenceTtlSec: number;
  /** PostgreSQL record store; undefined = the embedded SQLite one. */
  database: { url: string; timeoutMs: number; poolSize: number } | undefined;
  /** 0 = forever. */
  notificationRetentionDays: number;
  reports: { workers: number; queueSize: number; timeoutMs: number; maxPages: number; maxInputBytes: number; maxHeapMb: number; linkTtlSec: number; linkBaseUrl: string };
  /** The calls feature (features/calls): ring timeout, grace, signalling budget, ICE servers. */
  calls: CallsConfig;
  namespaces: Namespaces;
  /** The `/socket.io/` endpoint: Engine.IO timers, recovery window and the event mapping (config file key `socketio`). */
  socketio: SocketIoConfig & { pingIntervalMs: number; pingTimeoutMs: number; recoverySec: number };
  /** Seed configuration names translated (config/aliases.ts), for the start-up log. */
  aliasesApplied: string[];
  webhooks: WebhooksConfig;
  jobs: {
    pollMs: number;
    leaseMs: number;
    concurrency: Record<string, number>;
    /** Cluster-wide limits per kind (JOBS_CLUSTER_CONCURRENCY); absent kinds have none. */
    clusterConcurrency: Record<string, number>;
    retentionMs: number;
    sweepMs: number;
    timeoutMs: number;
    attempts: number;
    backoffMs: number;
    missedGraceMs: number;
    /** Signs job webhook calls; undefined = unsigned. */
    webhookSecret: string | undefined;
    breaker: { failures: number; cooldownMs: number };
    /** Static jobs of the config file's `jobs` (each with a `key`). */
    static: (JobSpec & { key: string })[];
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join("; ")}`);
    this.name = "ConfigError";
  }
}

/** Parses env (+ the optional JSON file). Throws ConfigError naming every offending key. */
export function loadConfig(rawEnv: Source = process.env): Config {
  const aliased = applyAliases(rawEnv);
  const env = aliased.env;
  const problems: string[] = [...aliased.problems];
  const file: FileValues = env.SWITCHBOARD_CONFIG ? readConfigFile(env.SWITCHBOARD_CONFIG, problems) : noFile();

  const s = {} as Record<SettingKey, unknown>;
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const setting = SETTINGS[key];
    const rawValue = env[key] !== undefined && env[key] !== "" ? env[key] : (file.values[key] ?? setting.default);
    if (rawValue === undefined) {
      s[key] = undefined;
      continue;
    }
    const r = v.safeParse(setting.schema as v.GenericSchema<string, unknown>, rawValue);
    if (r.success) s[key] = r.output;
    else problems.push(`${key}: ${r.issues[0].message} (got ${JSON.stringify(key.includes("SECRET") || key.includes("KEY") || key.includes("PASSWORD") || key === "DATABASE_URL" ? "[redacted]" : rawValue)})`);
  }
  const st = s as Settings;

  let namespaces: Namespaces = DEFAULT_NAMESPACES;
  if (file.namespaces !== undefined) {
    const r = v.safeParse(NamespacesSchema, file.namespaces);
    if (r.success) namespaces = file.extendsDefault ? { ...DEFAULT_NAMESPACES, ...r.output } : r.output;
    else problems.push(...policyProblems(r.issues));
  }

  let socketio = defaultSocketIo(namespaces);
  if (file.socketio !== undefined) {
    const r = v.safeParse(SocketIoSchema, file.socketio);
    if (r.success) problems.push(...checkSocketIo((socketio = r.output), namespaces));
    else for (const issue of r.issues) problems.push(`socketio.${v.getDotPath(issue) ?? ""}: ${issue.message}`);
  }

  const staticJobs: (JobSpec & { key: string })[] = [];
  if (file.jobs !== undefined) {
    const r = v.safeParse(v.array(JobSpecSchema), file.jobs);
    if (!r.success) for (const issue of r.issues) problems.push(`jobs.${v.getDotPath(issue) ?? ""}: ${issue.message}`);
    else
      r.output.forEach((j, i) => {
        if (j.key === undefined) problems.push(`jobs.${i}.key: a static job needs a key (it names the job across restarts)`);
        else staticJobs.push(j as JobSpec & { key: string });
      });
  }

  const staticWebhooks = file.webhooks === undefined ? [] : parseStaticWebhooks(file.webhooks, env, problems);

  const envName = st.NODE_ENV ?? "development";
  let publicKey = st.JWT_PUBLIC_KEY;
  if (publicKey && !publicKey.includes("-----BEGIN")) {
    if (existsSync(publicKey)) publicKey = readFileSync(publicKey, "utf8");
    else problems.push("JWT_PUBLIC_KEY: neither a PEM key nor a readable file");
  }
  const hasKey = Boolean(st.JWT_SECRET || publicKey || st.JWT_JWKS_URL);
  if (envName === "production") {
    if (!hasKey) problems.push("JWT_SECRET: production needs JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URL");
    if (!st.API_KEYS?.length) problems.push("API_KEYS: production needs at least one API key");
    if (!st.CORS_ORIGINS?.length) problems.push("CORS_ORIGINS: production needs an Origin allowlist (or `*` to allow any origin explicitly)");
  }
  if ((st.TLS_CERT_FILE === undefined) !== (st.TLS_KEY_FILE === undefined)) {
    problems.push("TLS_CERT_FILE: TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  for (const f of ["TLS_CERT_FILE", "TLS_KEY_FILE"] as const) {
    const path = st[f];
    if (path) {
      const why = pemProblem(path);
      if (why) problems.push(`${f}: ${why}`);
    }
  }
  problems.push(...webhookNamespaceProblems(namespaces, st));
  if (st.REDIS_URL && st.REDIS_CLUSTER_NODES?.length) problems.push("REDIS_URL: set either REDIS_URL or REDIS_CLUSTER_NODES, not both");
  if (st.REDIS_SENTINELS?.length) {
    if (st.REDIS_URL || st.REDIS_CLUSTER_NODES?.length) problems.push("REDIS_SENTINELS: set either REDIS_SENTINELS, REDIS_URL or REDIS_CLUSTER_NODES");
    if (!st.REDIS_SENTINEL_NAME) problems.push("REDIS_SENTINEL_NAME: required with REDIS_SENTINELS (the name in `sentinel monitor <name> …`)");
    for (const s of st.REDIS_SENTINELS) if (!/^.+:\d{1,5}$/.test(s)) problems.push(`REDIS_SENTINELS: ${JSON.stringify(s)} is not host:port`);
  }
  let redisTlsCa: string | undefined;
  if (st.REDIS_TLS_CA_FILE) {
    if (!st.REDIS_URL?.startsWith("rediss://")) problems.push("REDIS_TLS_CA_FILE: applies to a rediss:// REDIS_URL only");
    if (existsSync(st.REDIS_TLS_CA_FILE)) redisTlsCa = readFileSync(st.REDIS_TLS_CA_FILE, "utf8");
    else problems.push(`REDIS_TLS_CA_FILE: file ${st.REDIS_TLS_CA_FILE} does not exist`);
  }
  const useRedis = Boolean(st.REDIS_URL || st.REDIS_CLUSTER_NODES?.length || st.REDIS_SENTINELS?.length);
  problems.push(...sharedPortProblems(st.WORKERS!, st.REUSE_PORT!, useRedis, Boolean(st.DATABASE_URL)));
  if (problems.length > 0) throw new ConfigError(problems);

  const generated = !hasKey;
  return {
    env: envName,
    host: st.HOST!,
    port: st.PORT!,
    nodeId: st.NODE_ID ?? `${hostname().replace(/[^A-Za-z0-9_.\-]/g, "").slice(0, 40) || "node"}-${Math.random().toString(36).slice(2, 8)}`,
    logLevel: st.LOG_LEVEL!,
    tls: st.TLS_CERT_FILE && st.TLS_KEY_FILE ? { certFile: st.TLS_CERT_FILE, keyFile: st.TLS_KEY_FILE } : undefined,
    jwt: {
      secret: generated ? devSecret(st.DATA_DIR!, "jwt-secret") : st.JWT_SECRET,
      publicKey,
      algorithm: st.JWT_ALGORITHM!,
      jwksUrl: st.JWT_JWKS_URL,
      issuer: st.JWT_ISSUER,
      audience: st.JWT_AUDIENCE,
      expiryWarningSec: st.JWT_EXPIRY_WARNING_SEC!,
      generated,
    },
    apiKeys: st.API_KEYS ?? [],
    corsOrigins: st.CORS_ORIGINS?.length && !st.CORS_ORIGINS.includes("*") ? st.CORS_ORIGINS : undefined,
    trustProxy: st.TRUST_PROXY?.length ? st.TRUST_PROXY : undefined,
    dataDir: st.DATA_DIR!,
    ws: {
      authTimeoutMs: st.WS_AUTH_TIMEOUT_MS!,
      maxConnectionsPerUser: st.WS_MAX_CONNECTIONS_PER_USER!,
      maxGlobalConnections: st.WS_MAX_GLOBAL_CONNECTIONS!,
      upgradesPerIpPerSec: st.WS_UPGRADES_PER_IP_PER_SEC!,
      maxUnauthenticatedPerIp: st.WS_MAX_UNAUTHENTICATED_PER_IP!,
      maxSubscriptions: st.WS_MAX_ROOMS_PER_USER!,
      rateLimitPerSec: st.WS_RATE_LIMIT_PER_SEC!,
      rateLimitBurst: st.WS_RATE_LIMIT_BURST!,
      maxMessageSize: st.WS_MAX_MESSAGE_SIZE!,
      backpressureLimit: st.WS_BACKPRESSURE_LIMIT!,
      idleTimeoutSec: st.WS_IDLE_TIMEOUT_SEC!,
      maxErrorsPerMin: st.WS_MAX_ERRORS_PER_MIN!,
    },
    featureRateLimit: { perSec: st.HTTP_FEATURE_RATE_LIMIT_PER_SEC!, burst: st.HTTP_FEATURE_RATE_LIMIT_BURST! },
    drain: { deadlineMs: st.DRAIN_DEADLINE_MS!, reconnectMaxMs: st.DRAIN_RECONNECT_MAX_MS! },
    exitWithParent: st.EXIT_WITH_PARENT!,
    admin: st.ADMIN_PORT === undefined ? undefined : { port: st.ADMIN_PORT, host: st.ADMIN_HOST ?? st.HOST! },
    metricsKey: st.METRICS_KEY,
    adminDashboardKey: st.ADMIN_DASHBOARD_KEY,
    workers: st.WORKERS!,
    reusePort: st.REUSE_PORT! || st.WORKERS! > 1,
    historyTrimCron: st.HISTORY_TRIM_CRON!,
    channelIdleSec: st.CHANNEL_IDLE_SEC!,
    redis: useRedis
      ? {
          url: st.REDIS_URL,
          clusterNodes: st.REDIS_CLUSTER_NODES,
          sentinels: st.REDIS_SENTINELS?.length ? st.REDIS_SENTINELS : undefined,
          sentinelName: st.REDIS_SENTINEL_NAME,
          password: st.REDIS_PASSWORD,
          tlsCa: redisTlsCa,
          prefix: st.REDIS_PREFIX!,
          shards: st.REDIS_SHARDS!,
          commandTimeoutMs: st.REDIS_COMMAND_TIMEOUT_MS!,
          streamMaxLen: st.REDIS_STREAM_MAXLEN!,
          required: aliased.redisRequired,
        }
      : undefined,
    presenceTtlSec: st.PRESENCE_TTL_SEC!,
    database: st.DATABASE_URL ? { url: st.DATABASE_URL, timeoutMs: st.DATABASE_TIMEOUT_MS!, poolSize: st.DATABASE_POOL_SIZE! } : undefined,
    notificationRetentionDays: st.NOTIFICATION_RETENTION_DAYS!,
    reports: {
      workers: st.REPORT_WORKERS!,
      queueSize: st.REPORT_QUEUE_SIZE!,
      timeoutMs: st.REPORT_TIMEOUT_MS!,
      maxPages: st.REPORT_MAX_PAGES!,
      maxInputBytes: st.REPORT_MAX_INPUT_BYTES!,
      maxHeapMb: st.REPORT_WORKER_MAX_HEAP_MB!,
      linkTtlSec: st.REPORT_LINK_TTL_SEC!,
      linkBaseUrl: (st.REPORT_LINK_BASE_URL ?? "").replace(/\/+$/, ""),
    },
    calls: {
      ringTimeoutMs: st.CALL_RING_TIMEOUT_MS!,
      graceMs: st.CALL_GRACE_MS!,
      sweepMs: 5000,
      maxInvitees: st.CALL_MAX_INVITEES!,
      retentionSec: st.CALL_RETENTION_SEC!,
      signal: { ratePerSec: st.CALL_SIGNAL_RATE_PER_SEC!, burst: st.CALL_SIGNAL_BURST! },
      inviteRoles: st.CALL_INVITE_ROLES ?? [],
      ice: { stunUrls: st.CALL_STUN_URLS ?? [], turnUrls: st.CALL_TURN_URLS ?? [], turnSecret: st.CALL_TURN_SECRET, turnTtlSec: st.CALL_TURN_TTL_SEC! },
    },
    namespaces,
    socketio: {
      ...socketio,
      pingIntervalMs: st.SOCKETIO_PING_INTERVAL_MS!,
      pingTimeoutMs: st.SOCKETIO_PING_TIMEOUT_MS!,
      recoverySec: st.SOCKETIO_RECOVERY_SEC!,
    },
    aliasesApplied: aliased.applied,
    webhooks: webhooksConfig(st, staticWebhooks),
    jobs: {
      pollMs: st.JOBS_POLL_MS!,
      leaseMs: st.JOBS_LEASE_MS!,
      concurrency: concurrencyOf(st.JOBS_CONCURRENCY!),
      clusterConcurrency: st.JOBS_CLUSTER_CONCURRENCY ? Object.fromEntries(st.JOBS_CLUSTER_CONCURRENCY.split(",").map((p) => [p.split("=")[0]!, Number(p.split("=")[1])])) : {},
      retentionMs: st.JOBS_RETENTION_SEC! * 1000,
      sweepMs: st.JOBS_SWEEP_MS!,
      timeoutMs: st.JOBS_TIMEOUT_MS!,
      attempts: st.JOBS_ATTEMPTS!,
      backoffMs: st.JOBS_BACKOFF_MS!,
      missedGraceMs: st.JOBS_MISSED_GRACE_MS!,
      webhookSecret: st.WEBHOOK_SECRET,
      breaker: { failures: st.WEBHOOK_BREAKER_FAILURES!, cooldownMs: st.WEBHOOK_BREAKER_COOLDOWN_MS! },
      static: staticJobs,
    },
  };
}

/** `8` (every kind) or `publish=16,default=4`. */
function concurrencyOf(raw: string): Record<string, number> {
  if (/^\d+$/.test(raw)) return { default: Number(raw) };
  const out: Record<string, number> = { default: 8 };
  for (const pair of raw.split(",")) {
    const [k, n] = pair.split("=");
    out[k!] = Number(n);
  }
  return out;
}

/** Why a TLS file cannot be used, checked here so that Bun.serve never gets one it would fail on. */
function pemProblem(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `file ${path} does not exist`;
    if (code === "EISDIR") return `${path} is a directory, not a PEM file`;
    return `cannot read ${path} (${code ?? (err as Error).message}); check its permissions`;
  }
  if (!text.includes("-----BEGIN")) return `${path} is not a PEM file (no "-----BEGIN" line)`;
  return undefined;
}

/**
 * Several processes on one port are several nodes: each needs the shared
 * engine and record store, since the embedded engine's history and the
 * SQLite records belong to one process per DATA_DIR.
 */
function sharedPortProblems(workers: number, reusePort: boolean, redis: boolean, database: boolean): string[] {
  if (workers <= 1 && !reusePort) return [];
  const key = workers > 1 ? `WORKERS: ${workers} processes on one port` : "REUSE_PORT: processes sharing a port";
  const out: string[] = [];
  if (!redis) out.push(`${key} need the Redis engine (set REDIS_URL or REDIS_CLUSTER_NODES); the embedded engine is one node per DATA_DIR`);
  if (!database) out.push(`${key} need DATABASE_URL (PostgreSQL); the SQLite record store is one process per DATA_DIR`);
  return out;
}
