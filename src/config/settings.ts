import * as v from "valibot";
import { autoConnectionCap } from "./memory-budget.ts";
import { invalidProxyEntries } from "./trusted-proxies.ts";
import { defaultReportWorkers } from "../reports/report-workers.ts";

/**
 * Every setting Switchboard reads, with its default and a one-line meaning.
 * This table is the single source for parsing (config/load.ts) and for the
 * README's configuration table (tests/unit/config-docs.test.ts keeps them in step).
 */

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(
    v.string(),
    v.regex(/^-?\d+$/, "must be an integer"),
    v.transform(Number),
    v.number(),
    v.minValue(min, `must be ≥ ${min}`),
    v.maxValue(max, `must be ≤ ${max}`),
  );
const str = () => v.string();
/** An integer, or `auto` for the value `auto()` computes at start-up. */
const autoOrInt = (auto: () => number) =>
  v.pipe(
    v.string(),
    v.regex(/^(auto|\d+)$/, "must be auto or an integer ≥ 0"),
    v.transform((s) => (s === "auto" ? auto() : Number(s))),
    v.number(),
    v.safeInteger("must be auto or an integer ≥ 0"),
  );
/** An integer in [min, max], or `auto` for the value `auto()` computes at start-up. */
const autoOrRange = (min: number, max: number, auto: () => number) =>
  v.pipe(
    v.string(),
    v.regex(/^(auto|\d+)$/, `must be auto or an integer ${min}–${max}`),
    v.transform((s) => (s === "auto" ? auto() : Number(s))),
    v.number(),
    v.minValue(min, `must be ≥ ${min}`),
    v.maxValue(max, `must be ≤ ${max}`),
  );
const list = () =>
  v.pipe(
    v.string(),
    v.transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x.length > 0),
    ),
  );
const bool = () =>
  v.pipe(
    v.string(),
    v.regex(/^(true|false|1|0|yes|no)$/i, "must be true or false"),
    v.transform((s) => /^(true|1|yes)$/i.test(s)),
  );

export interface SettingSpec<T> {
  /** Default as the string an operator would write; undefined = unset. */
  default: string | undefined;
  doc: string;
  schema: v.GenericSchema<string, T>;
}

const spec = <T>(def: string | undefined, doc: string, schema: v.GenericSchema<string, T>): SettingSpec<T> => ({ default: def, doc, schema });

export const SETTINGS = {
  NODE_ENV: spec("development", "`development`, `production` or `test`. Production refuses to start without a JWT key and an API key.", v.picklist(["development", "production", "test"], "must be development, production or test")),
  HOST: spec("0.0.0.0", "Interface to listen on.", str()),
  PORT: spec("8080", "HTTP and WebSocket port (0 = any free port).", int(0, 65535)),
  NODE_ID: spec(undefined, "Name of this node in `hello.node`, logs and metrics (default: host name + random suffix).", v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.\-]{1,64}$/, "must be 1–64 of [A-Za-z0-9_.-]"))),
  LOG_LEVEL: spec("info", "`debug`, `info`, `warn` or `error`.", v.picklist(["debug", "info", "warn", "error"], "must be debug, info, warn or error")),
  SWITCHBOARD_CONFIG: spec(undefined, "Path of an optional JSON file with any of these keys, `namespaces` (channel policy) and `extends: default` (merge them over the default namespaces); environment variables win over the file.", str()),
  TLS_CERT_FILE: spec(undefined, "PEM certificate; with `TLS_KEY_FILE` serves https/wss.", str()),
  TLS_KEY_FILE: spec(undefined, "PEM private key for `TLS_CERT_FILE`.", str()),
  JWT_SECRET: spec(undefined, "HS256 secret (≥ 32 bytes) for user tokens.", v.pipe(v.string(), v.minLength(32, "must be at least 32 characters"))),
  JWT_PUBLIC_KEY: spec(undefined, "PEM (SPKI) public key for RS256/ES256 user tokens, or a path to such a file.", str()),
  JWT_ALGORITHM: spec("RS256", "Algorithm of `JWT_PUBLIC_KEY`: `RS256` or `ES256`.", v.picklist(["RS256", "ES256"], "must be RS256 or ES256")),
  JWT_JWKS_URL: spec(undefined, "URL of a JWKS document with the token signing keys (RS256/ES256).", v.pipe(v.string(), v.url("must be a URL"))),
  JWT_ISSUER: spec(undefined, "Required `iss` of user tokens.", str()),
  JWT_AUDIENCE: spec(undefined, "Required `aud` of user tokens.", str()),
  JWT_EXPIRY_WARNING_SEC: spec("30", "Seconds before `exp` at which the server sends `expiring`.", int(1, 3600)),
  API_KEYS: spec(undefined, "Comma-separated API keys for the server HTTP API.", list()),
  HTTP_FEATURE_RATE_LIMIT_PER_SEC: spec("500", "Requests per second per API key (per client IP without one), per node, to the feature routes under `/v1` (conversations, notifications, users' status and unread, calls, jobs, webhooks, reports); token bucket refill, 0 disables. Excess gets 429 `RATE_LIMIT_EXCEEDED` with `Retry-After`.", int(0, 1_000_000)),
  HTTP_FEATURE_RATE_LIMIT_BURST: spec("1000", "Token bucket size of `HTTP_FEATURE_RATE_LIMIT_PER_SEC`.", int(1, 10_000_000)),
  TRUST_PROXY: spec(undefined, "Comma-separated addresses or CIDRs of your balancers (`10.0.0.0/8,::1`); only their `X-Forwarded-For`/`Forwarded` headers name the client address in audit lines, logs and the per-IP upgrade limits. Unset = the socket peer is the client.", v.pipe(list(), v.check((l) => invalidProxyEntries(l).length === 0, "must be comma-separated IP addresses or CIDRs"))),
  CORS_ORIGINS: spec(undefined, "Comma-separated Origin allowlist for WebSocket upgrades and HTTP; `*` = any origin. Unset = any origin in development; production refuses to start without it.", list()),
  DATA_DIR: spec("./data", "Directory of the embedded engine's history database (one node per directory: a second process using it refuses to start).", str()),
  WS_AUTH_TIMEOUT_MS: spec("5000", "Time an unauthenticated connection has to send `auth`.", int(100, 600_000)),
  WS_MAX_CONNECTIONS_PER_USER: spec("5", "Connections per user (tenant + sub) across the cluster; 0 = unlimited. Excess closes with 4008.", int(0)),
  WS_MAX_GLOBAL_CONNECTIONS: spec("auto", "WebSocket connections per node; `auto` = one per 32 KiB of half the memory limit (cgroup or machine); 0 = unlimited. Excess upgrades get HTTP 429.", autoOrInt(autoConnectionCap)),
  WS_UPGRADES_PER_IP_PER_SEC: spec("50", "WebSocket upgrades per second per client IP (bursts of 10× that); 0 = no limit. Excess gets HTTP 429.", int(0)),
  WS_MAX_UNAUTHENTICATED_PER_IP: spec("256", "Sockets per client IP that have not authenticated yet; 0 = no limit. Excess upgrades get HTTP 429.", int(0)),
  WS_MAX_ROOMS_PER_USER: spec("50", "Subscriptions per connection.", int(1, 100_000)),
  WS_RATE_LIMIT_PER_SEC: spec("50", "Frames per second per connection (token bucket refill); 0 disables.", int(0)),
  WS_RATE_LIMIT_BURST: spec("100", "Token bucket size per connection.", int(1)),
  WS_MAX_MESSAGE_SIZE: spec("1048576", "Largest frame in bytes (larger closes with 1009); also the HTTP body limit.", int(256, 64 * 1024 * 1024)),
  WS_BACKPRESSURE_LIMIT: spec("1048576", "Bytes buffered for a slow client before it is closed.", int(1024)),
  WS_IDLE_TIMEOUT_SEC: spec("120", "Idle time before a silent connection is closed (1001); pings every half of it.", int(8, 960)),
  WS_MAX_ERRORS_PER_MIN: spec("30", "Protocol errors per minute before the connection is closed with 1008.", int(1)),
  DRAIN_DEADLINE_MS: spec("10000", "On SIGTERM/SIGINT: time to finish in-flight work before exit.", int(100)),
  DRAIN_RECONNECT_MAX_MS: spec("5000", "Upper bound of the jittered `reconnect.after` sent while draining.", int(0)),
  CHANNEL_IDLE_SEC: spec("60", "The embedded engine forgets a channel's in-memory state after this long without a publish (offsets continue where they were).", int(1, 86_400)),
  EXIT_WITH_PARENT: spec("true", "Drain and exit when the process that started the server dies (a wrapper that swallowed SIGTERM); set `false` for `nohup`/daemonised starts.", bool()),
  ADMIN_PORT: spec(undefined, "Serve `/metrics`, `/health/*` and the server API on this second, internal port too; the public port then stops answering `/metrics`.", int(0, 65535)),
  ADMIN_HOST: spec(undefined, "Interface of `ADMIN_PORT` (default: `HOST`).", str()),
  METRICS_KEY: spec(undefined, "When set, `/metrics` needs `Authorization: Bearer <METRICS_KEY>`.", v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"))),
  ADMIN_DASHBOARD_KEY: spec(undefined, "Turns on the admin dashboard at `/admin` (on `ADMIN_PORT` when set); its data needs this key. Unset = no dashboard.", v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"))),
  HISTORY_TRIM_CRON: spec("*/1 * * * *", "Cron pattern of the built-in job that deletes expired history (a job in the shared queue: once per cluster).", str()),
  WORKERS: spec("1", "Switchboard processes this node runs on one PORT (SO_REUSEPORT: the kernel spreads connections over them), each with NODE_ID `<NODE_ID>-<i>`; SIGTERM drains all. More than 1 needs REDIS_URL (or REDIS_CLUSTER_NODES) and DATABASE_URL.", int(1, 64)),
  REUSE_PORT: spec("false", "Listen with SO_REUSEPORT so that several processes share PORT (WORKERS sets it for its own processes; set it when a process manager starts them). Needs REDIS_URL (or REDIS_CLUSTER_NODES) and DATABASE_URL.", bool()),
  REDIS_URL: spec(undefined, "Use the Redis engine at this URL (`redis://…`); unset = embedded engine.", str()),
  REDIS_CLUSTER_NODES: spec(undefined, "Comma-separated `host:port` seeds of a Redis Cluster (instead of `REDIS_URL`).", list()),
  REDIS_SENTINELS: spec(undefined, "Comma-separated `host:port` of Redis Sentinels (instead of `REDIS_URL`); the primary is found through them, again after a failover.", list()),
  REDIS_SENTINEL_NAME: spec(undefined, "Name of the Sentinel-monitored primary (`sentinel monitor <name> …`); required with `REDIS_SENTINELS`.", str()),
  REDIS_PASSWORD: spec(undefined, "Redis password: of the Sentinel primary; with `REDIS_HOST`, or added to a `REDIS_URL` without one (see the aliases below).", str()),
  REDIS_TLS_CA_FILE: spec(undefined, "PEM CA file that the certificate of a `rediss://` `REDIS_URL` must chain to (default: the system's CAs).", str()),
  REDIS_PREFIX: spec("sb", "Key prefix of all Redis keys.", v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.\-]{1,32}$/, "must be 1–32 of [A-Za-z0-9_.-]"))),
  REDIS_SHARDS: spec("16", "Number of bus streams publications are sharded over.", int(1, 1024)),
  REDIS_COMMAND_TIMEOUT_MS: spec("1000", "A Redis command slower than this fails the publish with SERVICE_UNAVAILABLE.", int(10, 60_000)),
  REDIS_STREAM_MAXLEN: spec("100000", "Approximate length bus streams are trimmed to.", int(100)),
  SOCKETIO_PING_INTERVAL_MS: spec("25000", "Engine.IO `pingInterval` of `/socket.io/` connections.", int(1000, 600_000)),
  SOCKETIO_PING_TIMEOUT_MS: spec("20000", "Engine.IO `pingTimeout`: a Socket.IO client that answers no ping within it is disconnected.", int(1000, 600_000)),
  SOCKETIO_RECOVERY_SEC: spec("120", "How long a disconnected Socket.IO session can be recovered (`socket.recovered`) on any node.", int(0, 86_400)),
  DATABASE_URL: spec(undefined, "Keep records (conversations, chat messages, read positions, notifications, last seen, call records) in this PostgreSQL (`postgres://…`), shared by every node; unset = `records.sqlite` in `DATA_DIR`.", v.pipe(v.string(), v.regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"))),
  DATABASE_TIMEOUT_MS: spec("2000", "A record-store statement or commit slower than this fails with SERVICE_UNAVAILABLE.", int(50, 60_000)),
  DATABASE_POOL_SIZE: spec("10", "PostgreSQL connections per node.", int(1, 200)),
  NOTIFICATION_RETENTION_DAYS: spec("90", "Days a notification is kept in the record store; 0 = forever.", int(0, 36500)),
  REPORT_WORKERS: spec("auto", "Worker threads rendering PDF reports at once (off the event loop); `auto` = 2, or 1 where this process may use a single CPU core (cgroup quota or machine); with `WORKERS=N`, each process's share of the cores (at least 1). More than the cores make rendering compete with the event loop, and a warning is logged at start-up (for `WORKERS=N`, when the node's N × `REPORT_WORKERS` threads outnumber the cores).", autoOrRange(1, 64, defaultReportWorkers)),
  REPORT_QUEUE_SIZE: spec("16", "Reports waiting for a worker; more get HTTP 429 with `Retry-After`.", int(0, 10_000)),
  REPORT_TIMEOUT_MS: spec("30000", "A report still rendering after this is stopped (its worker is terminated and replaced) and answered 503.", int(100, 600_000)),
  REPORT_MAX_PAGES: spec("500", "Longest report in pages; longer ones are refused with 413.", int(1, 100_000)),
  REPORT_MAX_INPUT_BYTES: spec("1048576", "Largest report input (JSON body, or channel history) in bytes; larger is refused with 413.", int(1024, 256 * 1024 * 1024)),
  REPORT_WORKER_MAX_HEAP_MB: spec("512", "Heap a report worker may grow to before its report is refused with 413.", int(32, 65_536)),
  REPORT_LINK_TTL_SEC: spec("86400", "Lifetime of the download link a `report` job puts in an inbox notification (`notify.linkTtlSec` overrides it); an expired link answers 404.", int(1, 90 * 86_400)),
  REPORT_LINK_BASE_URL: spec(undefined, "Public origin put before report download links (`https://rt.example.org`); unset = the link is a path on this server.", v.pipe(v.string(), v.regex(/^https?:\/\/[^/?#]+(\/[^?#]*)?$/, "must be an http(s) URL without query"))),
  CALL_RING_TIMEOUT_MS: spec("30000", "How long an invitation rings before it is a missed call (inbox entry + `missed` event).", int(1000, 600_000)),
  CALL_GRACE_MS: spec("15000", "How long a call participant whose connections all dropped is held (rejoin resumes) before being marked left.", int(0, 600_000)),
  CALL_SIGNAL_RATE_PER_SEC: spec("400", "Call signalling frames (offer/answer/ice/renegotiate) per second per connection, a budget of their own; 0 = no limit.", int(0, 100_000)),
  CALL_SIGNAL_BURST: spec("1000", "Burst of that budget (an ICE gathering burst of hundreds of candidates fits).", int(1, 100_000)),
  CALL_MAX_INVITEES: spec("16", "Invitees per call.", int(1, 64)),
  CALL_RETENTION_SEC: spec("7776000", "Seconds an ended call's record (participants, outcome, quality) is kept; the built-in `history-trim` job (on `HISTORY_TRIM_CRON`, once per cluster) deletes older ones. 7776000 = 90 days; 0 = forever.", int(0, 3_153_600_000)),
  CALL_INVITE_ROLES: spec(undefined, "Roles that may `invite` from a client (comma-separated); unset = any user of the tenant. The HTTP API may always.", list()),
  CALL_STUN_URLS: spec(undefined, "STUN URLs handed to clients (`stun:stun.example.org:3478`, comma-separated).", list()),
  CALL_TURN_URLS: spec(undefined, "TURN URLs handed to clients with time-limited credentials (`turn:turn.example.org:3478?transport=udp`, …).", list()),
  CALL_TURN_SECRET: spec(undefined, "coturn `static-auth-secret` (`use-auth-secret`): TURN credentials are HMAC-SHA1 of `<expiry>:<user>`; clients never see it.", str()),
  CALL_TURN_TTL_SEC: spec("3600", "Lifetime of the TURN credentials handed out.", int(60, 86_400)),
  JOBS_POLL_MS: spec("500", "How often each node looks for due jobs in the record store (a job created on a node is looked at at once).", int(10, 60_000)),
  JOBS_LEASE_MS: spec("30000", "Lease of a running job, renewed while it runs; a job whose node died is retried once its lease ran out.", int(100, 3_600_000)),
  JOBS_CONCURRENCY: spec("8", "Jobs run at once per node: one number for every kind, or `kind=n` pairs (`publish=16,webhook=4,default=8`; kinds: publish, notify, webhook, builtin).", v.pipe(v.string(), v.regex(/^(\d{1,4}|([a-z]+=\d{1,4})(,[a-z]+=\d{1,4})*)$/, "must be a number or kind=n pairs"))),
  JOBS_TIMEOUT_MS: spec("30000", "Default per-run timeout of a job (`timeoutMs` overrides it).", int(10, 3_600_000)),
  JOBS_ATTEMPTS: spec("3", "Default attempts per run before a job is dead-lettered (`retry.attempts` overrides it).", int(1, 100)),
  JOBS_BACKOFF_MS: spec("1000", "Default first retry delay, doubled per attempt with ±25 % jitter (`retry.backoffMs` overrides it).", int(0, 86_400_000)),
  JOBS_MISSED_GRACE_MS: spec("60000", "A run claimed later than this after its due time was missed (the cluster was down): it runs once, or is skipped with `missed: \"skip\"`.", int(100, 86_400_000)),
  JOBS_CLUSTER_CONCURRENCY: spec(undefined, "Runs of a kind at once in the whole cluster, as `kind=n` pairs (`webhook=1,report=2`): a claim counts the kind's live leases in the record store, atomically across nodes; unset = only the per-node JOBS_CONCURRENCY.", v.pipe(v.string(), v.regex(/^(builtin|publish|notify|webhook|report)=[1-9]\d{0,3}(,(builtin|publish|notify|webhook|report)=[1-9]\d{0,3})*$/, "must be kind=n pairs, kinds builtin, publish, notify, webhook, report, n ≥ 1"))),
  JOBS_RETENTION_SEC: spec("604800", "Finished one-shot jobs (completed or dead) are deleted this long after they finished, by the built-in `retention` job; 0 = kept.", int(0, 10 * 365 * 86_400)),
  JOBS_SWEEP_MS: spec("300000", "How often the built-in `retention` job runs (once per cluster): it deletes finished jobs past JOBS_RETENTION_SEC and report files whose link expired.", int(100, 86_400_000)),
  WEBHOOK_SECRET: spec(undefined, "Signs every outgoing call of a `webhook` job action (HMAC-SHA256 over `timestamp.body`, headers `x-switchboard-timestamp` and `x-switchboard-signature`); unset = unsigned.", v.pipe(v.string(), v.minLength(16, "must be at least 16 characters"))),
  WEBHOOK_BREAKER_FAILURES: spec("5", "Failed calls in a row that open an external endpoint's circuit breaker (calls then fail at once until the cooldown).", int(1, 1000)),
  WEBHOOK_BREAKER_COOLDOWN_MS: spec("30000", "Time an open circuit breaker waits before it lets one trial call through (half-open).", int(10, 3_600_000)),
  WEBHOOK_ATTEMPTS: spec("10", "Attempts per webhook delivery before it is dead-lettered (replay it over the API).", int(1, 100)),
  WEBHOOK_BACKOFF_MS: spec("1000", "First retry delay of a failed webhook delivery, doubled per attempt with ±25 % jitter.", int(0, 86_400_000)),
  WEBHOOK_TIMEOUT_MS: spec("5000", "Time an endpoint has to answer a webhook delivery.", int(10, 600_000)),
  WEBHOOK_POLL_MS: spec("250", "How often each node looks for due webhook deliveries in the outbox (an event appended on a node is looked at at once).", int(10, 60_000)),
  WEBHOOK_AUTHORIZE_URL: spec(undefined, "The backend asked by the `backend` subscribe rule whether a user may subscribe to a channel (POST `{action, tenant, user, roles, ch}`, answer `{allow}`).", v.pipe(v.string(), v.regex(/^https?:\/\//, "must be an http(s) URL"))),
  WEBHOOK_AUTHORIZE_TIMEOUT_MS: spec("500", "Time the authorize hook has to answer.", int(10, 30_000)),
  WEBHOOK_AUTHORIZE_FAIL: spec("closed", "What an unanswered authorize hook decides: `closed` (deny) or `open` (allow).", v.picklist(["closed", "open"], "must be closed or open")),
  WEBHOOK_PUBLISH_URL: spec(undefined, "The backend asked by the `backend` publish rule whether a user may publish an event to a channel (POST `{action, tenant, user, roles, ch, ev, data}`, answer `{allow}`); a namespace's `publishUrl` overrides it.", v.pipe(v.string(), v.regex(/^https?:\/\//, "must be an http(s) URL"))),
  WEBHOOK_PUBLISH_TIMEOUT_MS: spec("500", "Time the publish hook has to answer (the publisher waits for it).", int(10, 30_000)),
  WEBHOOK_PUBLISH_FAIL: spec("closed", "What an unanswered publish hook decides: `closed` (deny) or `open` (allow).", v.picklist(["closed", "open"], "must be closed or open")),
  WEBHOOK_RETENTION_SEC: spec("604800", "Delivered and dead webhook deliveries are deleted from the delivery log after this many seconds (a built-in job on HISTORY_TRIM_CRON, once per cluster); 0 = kept.", int(0, 3_153_600_000)),
  PRESENCE_TTL_SEC: spec("15", "Presence and connection-lease TTL in Redis; refreshed every third of it.", int(2, 3600)),
} satisfies Record<string, SettingSpec<unknown>>;

export type SettingKey = keyof typeof SETTINGS;
/** Parsed value of each setting; undefined when unset and without default. */
export type Settings = { [K in SettingKey]: v.InferOutput<(typeof SETTINGS)[K]["schema"]> | undefined };
