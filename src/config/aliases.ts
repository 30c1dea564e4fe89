/**
 * Configuration names of the stacks Switchboard replaces (NestJS/Express +
 * Socket.IO + Redis adapter), so that a ported `.env` either means the same
 * here or stops the start with the replacement named. Never silently
 * ignored: an ignored REDIS_HOST would run one isolated node, an ignored
 * CORS_ORIGIN would let every origin in.
 */

type Source = Record<string, string | undefined>;

export interface AliasResult {
  /** The environment with aliases translated into Switchboard's own names. */
  env: Source;
  /** One line per alias applied, for the start-up log. */
  applied: string[];
  problems: string[];
  /** REDIS_ENABLED/ENABLE_REDIS_ADAPTER=true: Redis was asked for, so no embedded fallback. */
  redisRequired: boolean;
}

const set = (env: Source, k: string) => env[k] !== undefined && env[k] !== "";
const truthy = (s: string) => /^(true|1|yes)$/i.test(s);
const falsy = (s: string) => /^(false|0|no)$/i.test(s);

/** Settings the seeds had whose meaning Switchboard does not share: start-up error with the replacement. */
export const REFUSED_ALIASES: Record<string, string> = {
  WS_RATE_LIMIT_EVENTS_PER_MINUTE:
    "use WS_RATE_LIMIT_PER_SEC (frames per second per connection) and WS_RATE_LIMIT_BURST (token bucket size); N per minute is roughly WS_RATE_LIMIT_PER_SEC=ceil(N/60) with WS_RATE_LIMIT_BURST=N",
  REDIS_MAX_RETRIES:
    "Switchboard never gives up on Redis: it reconnects with backoff for as long as it runs, refusing publishes meanwhile (SERVICE_UNAVAILABLE, /health/ready 503); bound each command with REDIS_COMMAND_TIMEOUT_MS and remove this variable",
  REDIS_RETRY_DELAY:
    "Switchboard's reconnect delay is built in (50 ms doubling to 2 s, jittered); bound each command with REDIS_COMMAND_TIMEOUT_MS and remove this variable",
};

/** Documented aliases (README configuration table): alias → what it becomes. */
export const ALIASES: Record<string, string> = {
  REDIS_HOST: "REDIS_URL (redis://REDIS_HOST:REDIS_PORT with REDIS_PASSWORD); empty = no Redis",
  REDIS_PORT: "the port of REDIS_URL built from REDIS_HOST (default 6379)",
  REDIS_PASSWORD: "the password of REDIS_URL (from REDIS_HOST, or added to a REDIS_URL that has none)",
  REDIS_ENABLED: "true: Redis is required (no embedded fallback; redis://localhost:6379 when no address is set); false: the embedded engine",
  ENABLE_REDIS_ADAPTER: "same as REDIS_ENABLED",
  CORS_ORIGIN: "CORS_ORIGINS (`*` = any origin)",
  REALTIME_CORS_ORIGIN: "CORS_ORIGINS (`*` = any origin)",
};

function redisEnabledFlag(env: Source, problems: string[]): boolean | undefined {
  const flags = (["REDIS_ENABLED", "ENABLE_REDIS_ADAPTER"] as const).filter((k) => set(env, k));
  let value: boolean | undefined;
  for (const k of flags) {
    const raw = env[k]!;
    if (!truthy(raw) && !falsy(raw)) {
      problems.push(`${k}: must be true or false (got ${JSON.stringify(raw)})`);
      continue;
    }
    const v = truthy(raw);
    if (value !== undefined && v !== value) problems.push(`${k}: contradicts ${flags[0]}; keep one of them (Switchboard's own switch is REDIS_URL)`);
    value = v;
  }
  return value;
}

function urlWithPassword(url: string, password: string, problems: string[]): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.password && decodeURIComponent(u.password) !== password) {
    problems.push("REDIS_PASSWORD: REDIS_URL already has a different password; keep one of them");
    return undefined;
  }
  u.password = encodeURIComponent(password);
  return u.toString();
}

export function applyAliases(input: Source): AliasResult {
  const env: Source = { ...input };
  const applied: string[] = [];
  const problems: string[] = [];

  for (const [k, replacement] of Object.entries(REFUSED_ALIASES)) {
    if (!set(env, k)) continue;
    const n = Number(env[k]);
    const example = k === "WS_RATE_LIMIT_EVENTS_PER_MINUTE" && Number.isInteger(n) && n > 0 ? ` (here: WS_RATE_LIMIT_PER_SEC=${Math.ceil(n / 60)} WS_RATE_LIMIT_BURST=${n})` : "";
    problems.push(`${k}: not supported: ${replacement}${example}`);
  }

  for (const alias of ["CORS_ORIGIN", "REALTIME_CORS_ORIGIN"]) {
    if (!set(env, alias)) continue;
    const value = env[alias]!.trim();
    if (set(env, "CORS_ORIGINS") && env.CORS_ORIGINS !== value) {
      problems.push(`${alias}: CORS_ORIGINS is set to something else; keep CORS_ORIGINS only`);
      continue;
    }
    // Socket.IO's `*` allows every origin; here that is an unset CORS_ORIGINS.
    if (value === "*") {
      applied.push(`${alias}=* → CORS_ORIGINS unset (any origin)`);
      delete env.CORS_ORIGINS;
    } else {
      env.CORS_ORIGINS = value;
      applied.push(`${alias} → CORS_ORIGINS`);
    }
  }

  const enabled = redisEnabledFlag(env, problems);
  const hasHost = set(env, "REDIS_HOST");
  if (hasHost && (set(env, "REDIS_URL") || set(env, "REDIS_CLUSTER_NODES"))) {
    problems.push("REDIS_HOST: set either REDIS_URL (or REDIS_CLUSTER_NODES) or REDIS_HOST/REDIS_PORT, not both");
  } else if (hasHost) {
    const port = set(env, "REDIS_PORT") ? env.REDIS_PORT! : "6379";
    if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) problems.push(`REDIS_PORT: must be a port number (got ${JSON.stringify(port)})`);
    const host = env.REDIS_HOST!.includes(":") ? `[${env.REDIS_HOST}]` : env.REDIS_HOST!;
    const auth = set(env, "REDIS_PASSWORD") ? `:${encodeURIComponent(env.REDIS_PASSWORD!)}@` : "";
    env.REDIS_URL = `redis://${auth}${host}:${port}`;
    applied.push(`REDIS_HOST${set(env, "REDIS_PORT") ? "/REDIS_PORT" : ""}${auth ? "/REDIS_PASSWORD" : ""} → REDIS_URL`);
  } else {
    if (set(env, "REDIS_PORT") && !set(env, "REDIS_URL") && !("REDIS_HOST" in env)) problems.push("REDIS_PORT: has no REDIS_HOST; set REDIS_HOST too, or REDIS_URL");
    if (set(env, "REDIS_PASSWORD")) {
      if (set(env, "REDIS_URL")) {
        const url = urlWithPassword(env.REDIS_URL!, env.REDIS_PASSWORD!, problems);
        if (url) {
          env.REDIS_URL = url;
          applied.push("REDIS_PASSWORD → password of REDIS_URL");
        }
      } else if ("REDIS_HOST" in env) {
        // The seeds' documented way to run without Redis: REDIS_HOST= (empty), the rest left in place.
        applied.push("REDIS_HOST is empty → embedded engine (single node); REDIS_PASSWORD ignored");
      } else if (!set(env, "REDIS_CLUSTER_NODES") && !set(env, "REDIS_SENTINELS") && enabled !== true) {
        problems.push("REDIS_PASSWORD: has no REDIS_URL or REDIS_HOST to apply to");
      }
    }
  }

  if (enabled === true && !set(env, "REDIS_URL") && !set(env, "REDIS_CLUSTER_NODES") && !set(env, "REDIS_SENTINELS")) {
    // What the seeds' clients did with no address: the local default.
    const auth = set(env, "REDIS_PASSWORD") ? `:${encodeURIComponent(env.REDIS_PASSWORD!)}@` : "";
    env.REDIS_URL = `redis://${auth}localhost:6379`;
    applied.push("REDIS_ENABLED=true without an address → REDIS_URL=redis://localhost:6379");
  }
  if (enabled === false && (set(env, "REDIS_URL") || set(env, "REDIS_CLUSTER_NODES") || set(env, "REDIS_SENTINELS"))) {
    delete env.REDIS_URL;
    delete env.REDIS_CLUSTER_NODES;
    delete env.REDIS_SENTINELS;
    applied.push("REDIS_ENABLED=false → embedded engine (single node), Redis address ignored");
  }
  return { env, applied, problems, redisRequired: enabled === true };
}
