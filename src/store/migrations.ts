/**
 * Schema migrations, numbered, applied in order at start-up inside one
 * transaction each. The SQL is written once for both stores (BIGINT and TEXT
 * mean the same to SQLite and PostgreSQL here). Never edit a released
 * migration: add the next number.
 */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "conversations, messages, read positions, notifications, last seen",
    statements: [
      `CREATE TABLE conversations (
        tenant TEXT NOT NULL, id TEXT NOT NULL, title TEXT, created_ms BIGINT NOT NULL, active_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, id))`,
      `CREATE TABLE conversation_members (
        tenant TEXT NOT NULL, conversation TEXT NOT NULL, user_id TEXT NOT NULL, added_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, conversation, user_id))`,
      "CREATE INDEX conversation_members_by_user ON conversation_members (tenant, user_id)",
      `CREATE TABLE chat_messages (
        tenant TEXT NOT NULL, conversation TEXT NOT NULL, off BIGINT NOT NULL, ev TEXT NOT NULL, data TEXT NOT NULL,
        sender TEXT, ts BIGINT NOT NULL, expires_ms BIGINT, redacted_by TEXT, redacted_ms BIGINT,
        PRIMARY KEY (tenant, conversation, off))`,
      "CREATE INDEX chat_messages_expiry ON chat_messages (expires_ms)",
      `CREATE TABLE read_positions (
        tenant TEXT NOT NULL, conversation TEXT NOT NULL, user_id TEXT NOT NULL, off BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, conversation, user_id))`,
      `CREATE TABLE notifications (
        tenant TEXT NOT NULL, user_id TEXT NOT NULL, id TEXT NOT NULL, type TEXT NOT NULL, title TEXT NOT NULL, body TEXT,
        data TEXT, priority TEXT NOT NULL, created_ms BIGINT NOT NULL, read_ms BIGINT, expires_ms BIGINT,
        PRIMARY KEY (tenant, user_id, id))`,
      "CREATE INDEX notifications_expiry ON notifications (expires_ms)",
      `CREATE TABLE last_seen (
        tenant TEXT NOT NULL, user_id TEXT NOT NULL, seen_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, user_id))`,
    ],
  },
  {
    version: 2,
    name: "user status",
    statements: [
      `CREATE TABLE user_status (
        tenant TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT NOT NULL, text TEXT, updated_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, user_id))`,
    ],
  },
  {
    version: 3,
    name: "call records",
    statements: [
      `CREATE TABLE calls (
        tenant TEXT NOT NULL, id TEXT NOT NULL, caller TEXT NOT NULL, media TEXT NOT NULL, context TEXT, state TEXT NOT NULL, outcome TEXT,
        participants TEXT NOT NULL, created_ms BIGINT NOT NULL, ring_deadline_ms BIGINT NOT NULL, answered_ms BIGINT, ended_ms BIGINT,
        ended_by TEXT, end_reason TEXT, next_deadline_ms BIGINT, version BIGINT NOT NULL,
        q_samples BIGINT NOT NULL DEFAULT 0, q_rtt_sum DOUBLE PRECISION NOT NULL DEFAULT 0, q_rtt_max DOUBLE PRECISION NOT NULL DEFAULT 0,
        q_jitter_sum DOUBLE PRECISION NOT NULL DEFAULT 0, q_jitter_max DOUBLE PRECISION NOT NULL DEFAULT 0,
        q_loss_sum DOUBLE PRECISION NOT NULL DEFAULT 0, q_loss_max DOUBLE PRECISION NOT NULL DEFAULT 0,
        q_bitrate_sum DOUBLE PRECISION NOT NULL DEFAULT 0, q_bitrate_min DOUBLE PRECISION,
        PRIMARY KEY (tenant, id))`,
      "CREATE INDEX calls_due ON calls (next_deadline_ms)",
      `CREATE TABLE call_users (
        tenant TEXT NOT NULL, user_id TEXT NOT NULL, call TEXT NOT NULL, created_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, user_id, call))`,
      "CREATE INDEX call_users_recent ON call_users (tenant, user_id, created_ms)",
    ],
  },
  {
    version: 4,
    name: "durable jobs",
    statements: [
      `CREATE TABLE jobs (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, name TEXT, idem_key TEXT, kind TEXT NOT NULL, schedule TEXT NOT NULL, action TEXT NOT NULL,
        priority BIGINT NOT NULL, max_attempts BIGINT NOT NULL, backoff_ms BIGINT NOT NULL, timeout_ms BIGINT NOT NULL, missed TEXT NOT NULL,
        state TEXT NOT NULL, run_at BIGINT, due_ms BIGINT, attempts BIGINT NOT NULL, last_error TEXT, last_run_ms BIGINT, note TEXT,
        lease_owner TEXT, lease_until BIGINT, completed_runs BIGINT NOT NULL, failed_attempts BIGINT NOT NULL, dead_runs BIGINT NOT NULL,
        created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL)`,
      "CREATE UNIQUE INDEX jobs_by_key ON jobs (tenant, idem_key)",
      "CREATE INDEX jobs_due ON jobs (kind, state, run_at)",
      "CREATE INDEX jobs_by_tenant ON jobs (tenant, state)",
    ],
  },
  {
    version: 5,
    name: "webhook endpoints and outbox",
    statements: [
      `CREATE TABLE webhook_endpoints (
        tenant TEXT NOT NULL, id TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL, namespaces TEXT NOT NULL,
        rate_per_sec BIGINT NOT NULL, created_ms BIGINT NOT NULL, PRIMARY KEY (tenant, id))`,
      `CREATE TABLE webhook_deliveries (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, endpoint TEXT NOT NULL, event TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL,
        attempts BIGINT NOT NULL, next_ms BIGINT NOT NULL, last_error TEXT, last_status BIGINT, lease_owner TEXT, lease_until BIGINT,
        created_ms BIGINT NOT NULL, delivered_ms BIGINT)`,
      "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_ms)",
      "CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (tenant, endpoint, created_ms)",
    ],
  },
  {
    version: 6,
    name: "call record retention",
    // CALL_RETENTION_SEC deletes ended calls oldest first, with their user index rows: both by index, not by scan.
    statements: ["CREATE INDEX calls_ended ON calls (ended_ms)", "CREATE INDEX call_users_by_call ON call_users (tenant, call)"],
  },
  {
    version: 7,
    name: "report files behind expiring download links",
    statements: [
      // The PDF as base64 text: one column type for both databases.
      `CREATE TABLE report_files (
        id TEXT PRIMARY KEY, tenant TEXT NOT NULL, token_hash TEXT NOT NULL, file_name TEXT NOT NULL, pages BIGINT NOT NULL,
        bytes BIGINT NOT NULL, pdf TEXT NOT NULL, job TEXT, created_ms BIGINT NOT NULL, expires_ms BIGINT NOT NULL)`,
      "CREATE INDEX report_files_expiry ON report_files (expires_ms)",
      "CREATE INDEX jobs_finished ON jobs (state, updated_ms)",
    ],
  },
];

export const LATEST_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The database was migrated by a newer Switchboard: this node must not touch it. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly known: number,
  ) {
    super(`database schema is version ${found}, this node knows up to ${known}: upgrade this node (or point it at another database)`);
    this.name = "SchemaTooNewError";
  }
}
