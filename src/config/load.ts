import * as v from "valibot";
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { devSecret } from "./dev-secrets.ts";
import { DEFAULT_NAMESPACES, NamespacesSchema, type Namespaces } from "./policy.ts";
import { SETTINGS, type SettingKey, type Settings } from "./settings.ts";

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
  dataDir: string;
  ws: {
    authTimeoutMs: number;
    maxConnectionsPerUser: number;
    maxGlobalConnections: number;
    maxSubscriptions: number;
    rateLimitPerSec: number;
    rateLimitBurst: number;
    maxMessageSize: number;
    backpressureLimit: number;
    idleTimeoutSec: number;
    maxErrorsPerMin: number;
  };
  drain: { deadlineMs: number; reconnectMaxMs: number };
  historyTrimCron: string;
  redis:
    | {
        url: string | undefined;
        clusterNodes: string[] | undefined;
        prefix: string;
        shards: number;
        commandTimeoutMs: number;
        streamMaxLen: number;
      }
    | undefined;
  presenceTtlSec: number;
  reports: { workers: number; queueSize: number; timeoutMs: number; maxPages: number; maxInputBytes: number; maxHeapMb: number };
  namespaces: Namespaces;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

type Source = Record<string, string | undefined>;

function readFile(path: string, problems: string[]): { values: Source; namespaces: unknown } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    problems.push(`SWITCHBOARD_CONFIG: cannot read ${path} as JSON (${(err as Error).message})`);
    return { values: {}, namespaces: undefined };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    problems.push("SWITCHBOARD_CONFIG: the file must hold a JSON object");
    return { values: {}, namespaces: undefined };
  }
  const values: Source = {};
  let namespaces: unknown;
  for (const [k, val] of Object.entries(raw)) {
    if (k === "namespaces") namespaces = val;
    else if (!(k in SETTINGS)) problems.push(`${k}: unknown key in ${path}`);
    else if (val === null) continue;
    else values[k] = Array.isArray(val) ? val.join(",") : String(val);
  }
  return { values, namespaces };
}

/** Parses env (+ the optional JSON file). Throws ConfigError naming every offending key. */
export function loadConfig(env: Source = process.env): Config {
  const problems: string[] = [];
  let file: { values: Source; namespaces: unknown } = { values: {}, namespaces: undefined };
  if (env.SWITCHBOARD_CONFIG) file = readFile(env.SWITCHBOARD_CONFIG, problems);

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
    else problems.push(`${key}: ${r.issues[0].message} (got ${JSON.stringify(key.includes("SECRET") || key.includes("KEY") ? "[redacted]" : rawValue)})`);
  }
  const st = s as Settings;

  let namespaces: Namespaces = DEFAULT_NAMESPACES;
  if (file.namespaces !== undefined) {
    const r = v.safeParse(NamespacesSchema, file.namespaces);
    if (r.success) namespaces = r.output;
    else for (const issue of r.issues) problems.push(`namespaces.${v.getDotPath(issue) ?? ""}: ${issue.message}`);
  }

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
  }
  if ((st.TLS_CERT_FILE === undefined) !== (st.TLS_KEY_FILE === undefined)) {
    problems.push("TLS_CERT_FILE: TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  for (const f of ["TLS_CERT_FILE", "TLS_KEY_FILE"] as const) {
    const path = st[f];
    if (path && !existsSync(path)) problems.push(`${f}: file ${path} does not exist`);
  }
  if (st.REDIS_URL && st.REDIS_CLUSTER_NODES?.length) problems.push("REDIS_URL: set either REDIS_URL or REDIS_CLUSTER_NODES, not both");
  if (problems.length > 0) throw new ConfigError(problems);

  const generated = !hasKey;
  const useRedis = Boolean(st.REDIS_URL || st.REDIS_CLUSTER_NODES?.length);
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
    corsOrigins: st.CORS_ORIGINS?.length ? st.CORS_ORIGINS : undefined,
    dataDir: st.DATA_DIR!,
    ws: {
      authTimeoutMs: st.WS_AUTH_TIMEOUT_MS!,
      maxConnectionsPerUser: st.WS_MAX_CONNECTIONS_PER_USER!,
      maxGlobalConnections: st.WS_MAX_GLOBAL_CONNECTIONS!,
      maxSubscriptions: st.WS_MAX_ROOMS_PER_USER!,
      rateLimitPerSec: st.WS_RATE_LIMIT_PER_SEC!,
      rateLimitBurst: st.WS_RATE_LIMIT_BURST!,
      maxMessageSize: st.WS_MAX_MESSAGE_SIZE!,
      backpressureLimit: st.WS_BACKPRESSURE_LIMIT!,
      idleTimeoutSec: st.WS_IDLE_TIMEOUT_SEC!,
      maxErrorsPerMin: st.WS_MAX_ERRORS_PER_MIN!,
    },
    drain: { deadlineMs: st.DRAIN_DEADLINE_MS!, reconnectMaxMs: st.DRAIN_RECONNECT_MAX_MS! },
    historyTrimCron: st.HISTORY_TRIM_CRON!,
    redis: useRedis
      ? {
          url: st.REDIS_URL,
          clusterNodes: st.REDIS_CLUSTER_NODES,
          prefix: st.REDIS_PREFIX!,
          shards: st.REDIS_SHARDS!,
          commandTimeoutMs: st.REDIS_COMMAND_TIMEOUT_MS!,
          streamMaxLen: st.REDIS_STREAM_MAXLEN!,
        }
      : undefined,
    presenceTtlSec: st.PRESENCE_TTL_SEC!,
    reports: {
      workers: st.REPORT_WORKERS!,
      queueSize: st.REPORT_QUEUE_SIZE!,
      timeoutMs: st.REPORT_TIMEOUT_MS!,
      maxPages: st.REPORT_MAX_PAGES!,
      maxInputBytes: st.REPORT_MAX_INPUT_BYTES!,
      maxHeapMb: st.REPORT_WORKER_MAX_HEAP_MB!,
    },
    namespaces,
  };
}
