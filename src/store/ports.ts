/**
 * The store port: records that outlive the engine's history window. The hub
 * and the features see only these interfaces; `SqliteStore` (embedded, in
 * DATA_DIR) and `PostgresStore` (clusters, DATABASE_URL) implement them, and
 * tests/store/contract.ts holds both to the same behaviour.
 *
 * Every record is keyed by tenant first ("" for single-tenant deployments):
 * no query of this port ever crosses tenants. Times are ms since the epoch.
 *
 * Writes marked *batched* are queued and committed together once per
 * event-loop turn, in one transaction: the promise resolves only after that
 * commit, and rejects (SwitchboardError SERVICE_UNAVAILABLE) when the batch
 * could not be committed, in which case none of it was. A new kind of record
 * (call records, jobs, a webhook outbox) is a new interface here, a numbered
 * migration in migrations.ts and its queries in SqlStore.
 */

import type { CallStore } from "./call-records.ts";

export * from "./call-records.ts";

export interface ConversationInput {
  title: string | null;
  /** The complete member list after the call (user ids, deduplicated by the store). */
  members: readonly string[];
}

export interface Conversation {
  id: string;
  title: string | null;
  members: string[];
  createdMs: number;
}

export interface MembershipChange {
  added: string[];
  removed: string[];
}

export interface ConversationRecords {
  /**
   * Creates the conversation or replaces its title and member list, in one
   * transaction. Answers who was added and who removed compared with before
   * (every member is "added" on creation).
   */
  putConversation(tenant: string, id: string, input: ConversationInput, nowMs: number): Promise<MembershipChange>;
  /** Undefined when the tenant has no such conversation. */
  conversation(tenant: string, id: string): Promise<Conversation | undefined>;
  isMember(tenant: string, id: string, user: string): Promise<boolean>;
  /** The user's conversations, most recent activity first, each with its last message and the user's unread count. */
  conversationsOf(tenant: string, user: string): Promise<ConversationSummary[]>;
}

/** One persisted chat message; `off` is the engine offset it was published with. */
export interface ChatMessage {
  off: number;
  ev: string;
  /** JSON text; "null" once redacted. */
  data: string;
  /** Sender's user id; null for server publications. */
  from: string | null;
  ts: number;
  /** Set once redacted: who did it and when (the content is gone). */
  redactedBy?: string;
  redactedMs?: number;
}

export interface ConversationSummary {
  id: string;
  title: string | null;
  lastMessage: ChatMessage | null;
  unread: number;
}

export interface MessagePage {
  /** Oldest first. */
  messages: ChatMessage[];
  /** True when older messages exist before the first one returned. */
  more: boolean;
}

export interface MessageRecords {
  /** *Batched.* Stores a message; `expiresMs` null keeps it forever. Idempotent per (conversation, off). */
  appendMessage(tenant: string, conversation: string, msg: ChatMessage, expiresMs: number | null): Promise<void>;
  /**
   * *Batched.* Stores a message at the offset the engine holds for it before
   * publishing (Engine.publishCommitted), replacing a record already under
   * that offset: one whose publish never happened (refused, or its node died),
   * so never acknowledged.
   */
  putMessage(tenant: string, conversation: string, msg: ChatMessage, expiresMs: number | null): Promise<void>;
  /** Drops the records of messages that were never published (the engine refused them after their commit). */
  deleteMessages(tenant: string, conversation: string, offs: readonly number[]): Promise<void>;
  /** Up to `limit` unexpired messages with offset < `before` (all when undefined), the newest of them. */
  messagesBefore(tenant: string, conversation: string, before: number | undefined, limit: number, nowMs: number): Promise<MessagePage>;
  /** Drops a message's content, keeping who redacted it and when; false when there is no such message. */
  redactMessage(tenant: string, conversation: string, off: number, by: string, nowMs: number): Promise<boolean>;
}

export interface ReadPositions {
  /**
   * *Batched.* Moves the user's read position in a conversation forward to
   * `off` (never backwards); resolves with the position now stored.
   */
  markRead(tenant: string, conversation: string, user: string, off: number, nowMs: number): Promise<number>;
  /** Every member's stored position (members who never read are absent). */
  readPositions(tenant: string, conversation: string): Promise<{ user: string; off: number }[]>;
  /**
   * Unread messages per conversation of the user (messages after the user's
   * position, not sent by the user, not redacted, not expired) and their total.
   */
  unreadCounts(tenant: string, user: string, nowMs: number): Promise<UnreadCounts>;
}

export interface UnreadCounts {
  conversations: { id: string; unread: number }[];
  total: number;
}

export type NotificationPriority = "low" | "normal" | "high";

export interface NotificationInput {
  type: string;
  title: string;
  body: string | null;
  /** JSON text or null. */
  data: string | null;
  priority: NotificationPriority;
}

export interface Notification extends NotificationInput {
  /** Ordered like creation: a larger id is a newer notification. */
  id: string;
  createdMs: number;
  readMs: number | null;
}

export interface NotificationRecords {
  /** *Batched.* One notification per user; answers their ids in `users` order. */
  addNotifications(tenant: string, users: readonly string[], n: NotificationInput, nowMs: number, expiresMs: number | null): Promise<Notification[]>;
  /** Newest first, up to `limit`, only unread ones with `unreadOnly`, older than the id `before` when given. */
  notifications(tenant: string, user: string, q: { unreadOnly: boolean; limit: number; before?: string }, nowMs: number): Promise<Notification[]>;
  /** Marks the given ids (all unread when undefined) read; answers the user's unread count after. */
  markNotificationsRead(tenant: string, user: string, ids: readonly string[] | undefined, nowMs: number): Promise<number>;
  unreadNotifications(tenant: string, user: string, nowMs: number): Promise<number>;
}

export interface LastSeenRecords {
  /** *Batched.* Records when the user's last connection in the cluster closed. */
  setLastSeen(tenant: string, user: string, atMs: number): Promise<void>;
  /** Last-seen times of those users that have one. */
  lastSeen(tenant: string, users: readonly string[]): Promise<Map<string, number>>;
}

export type UserStatus = "online" | "away" | "busy" | "in_call" | "offline";

export interface StatusRecord {
  status: UserStatus;
  text: string | null;
  updatedMs: number;
}

export interface StatusRecords {
  /** *Batched.* The status a user set (kept while any of the user's connections stays). */
  setStatus(tenant: string, user: string, status: UserStatus, text: string | null, nowMs: number): Promise<void>;
  /** *Batched.* Forgets the user's status (the last connection closed): the user is `online` again next time. */
  clearStatus(tenant: string, user: string): Promise<void>;
  /** Statuses of those users that set one. */
  statuses(tenant: string, users: readonly string[]): Promise<Map<string, StatusRecord>>;
}


export interface StoreHealth {
  up: boolean;
  /** Human-readable, never a secret (no URL with credentials). */
  detail: string;
  /** Schema version in use. */
  schema: number;
}

export interface Store extends ConversationRecords, MessageRecords, ReadPositions, NotificationRecords, LastSeenRecords, StatusRecords {
  readonly kind: "sqlite" | "postgres";
  /** Call records (features/calls). */
  readonly calls: CallStore;
  /** The durable job queue, in the same database. */
  readonly jobs: JobStore;
  /** Webhook endpoints and the durable outbox of their deliveries. */
  readonly webhooks: WebhookOutbox;
  /** Rendered reports behind expiring download links. */
  readonly reportFiles: ReportFileStore;
  /**
   * Opens the database and applies pending migrations. Rejects with
   * SchemaTooNewError when the database was migrated by a newer node, and
   * with SERVICE_UNAVAILABLE when it cannot be reached.
   */
  start(): Promise<void>;
  /** Commits queued writes, then closes. */
  stop(): Promise<void>;
  health(): StoreHealth;
  /** Called on every change of availability (drives /health/ready). */
  onAvailability(listener: (up: boolean, reason: string) => void): void;
  /** Deletes expired messages and notifications; answers how many rows went. */
  trim(nowMs: number): Promise<number>;
}

/** Where a job is in its life (graphile-worker/pg-boss style). A retry waits again in `waiting`. */
export type JobState = "waiting" | "active" | "paused" | "completed" | "dead";

/** What a job is, as created; `schedule` and `action` are JSON text the jobs service owns. */
export interface JobDefinition {
  tenant: string;
  name: string | null;
  /** Idempotency key: a second create with the same (tenant, key) answers the first job. */
  key: string | null;
  /** Concurrency class (the action's type). */
  kind: string;
  schedule: string;
  action: string;
  /** Higher runs first among due jobs. */
  priority: number;
  maxAttempts: number;
  backoffMs: number;
  timeoutMs: number;
  /** Runs missed while the cluster was down: `run` once, or `skip` them. */
  missed: "run" | "skip";
}

export interface JobRecord extends JobDefinition {
  id: string;
  state: JobState;
  /** When the job is due next (also the retry time); null once finished. */
  runAtMs: number | null;
  /** The due time of the run in progress or being retried. */
  dueMs: number | null;
  /** Attempts of the current run. */
  attempts: number;
  lastError: string | null;
  lastRunMs: number | null;
  /** The last thing worth saying about the schedule (missed runs run or skipped). */
  note: string | null;
  leaseOwner: string | null;
  leaseUntilMs: number | null;
  completedRuns: number;
  failedAttempts: number;
  deadRuns: number;
  createdMs: number;
}

/** A claimed run: the lease token must be shown to finish it. */
export interface JobClaim {
  job: JobRecord;
  lease: string;
}

/** How a run ended, decided by the jobs service. */
export type JobOutcome =
  | { type: "done"; nextRunAtMs: number | null; note?: string | null; /** Not run (missed and `skip`): not counted as completed. */ skipped?: boolean }
  | { type: "retry"; error: string; runAtMs: number }
  | { type: "dead"; error: string; nextRunAtMs: number | null };

export interface JobStats {
  kind: string;
  waiting: number;
  delayed: number;
  active: number;
  paused: number;
  completed: number;
  failed: number;
  dead: number;
  lastRunMs: number | null;
  nextRunMs: number | null;
}

/**
 * The durable job queue. A due job is claimed by exactly one node at a time
 * (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one node owns DATA_DIR and a
 * claim is one statement), under a lease: a claim whose lease ran out (its
 * node died mid-run) is claimed again, counting an attempt.
 */
export interface JobStore {
  /** Inserts the job; with a key already used by the tenant, answers that job and `created: false`. */
  createJob(id: string, def: JobDefinition, runAtMs: number, nowMs: number): Promise<{ job: JobRecord; created: boolean }>;
  /** A static job (config file, built-ins): created, or its definition replaced when it changed (then rescheduled to `runAtMs`). */
  upsertStaticJob(id: string, def: JobDefinition, runAtMs: number, nowMs: number): Promise<JobRecord>;
  job(tenant: string | undefined, id: string): Promise<JobRecord | undefined>;
  jobByKey(tenant: string, key: string): Promise<JobRecord | undefined>;
  /** Newest first, at most `limit`; `tenant` undefined lists every tenant. */
  jobs(q: { tenant?: string; state?: JobState; limit: number }): Promise<JobRecord[]>;
  /** False when there was no such job. */
  removeJob(tenant: string, id: string): Promise<boolean>;
  /** Pauses a waiting job / resumes a paused one (due at `runAtMs`); answers the job after, undefined when absent. */
  setPaused(tenant: string, id: string, paused: boolean, runAtMs: number | null, nowMs: number): Promise<JobRecord | undefined>;
  /**
   * Claims up to `limit` due jobs of `kind`, highest priority first, then oldest due.
   * With `clusterLimit`, never so many that more than `clusterLimit` runs of
   * the kind hold a live lease in the whole cluster (the count and the claim
   * are atomic across nodes).
   */
  claimJobs(kind: string, owner: string, limit: number, nowMs: number, leaseMs: number, clusterLimit?: number): Promise<JobClaim[]>;
  /** Extends a lease still held; false when it was lost. */
  renewLease(id: string, lease: string, untilMs: number): Promise<boolean>;
  /** Records how a claimed run ended; false when the lease was lost meanwhile (nothing changed). */
  finishJob(id: string, lease: string, outcome: JobOutcome, nowMs: number): Promise<boolean>;
  /** Per kind, for /health, /metrics and GET /v1/jobs. */
  jobStats(nowMs: number, tenant?: string): Promise<JobStats[]>;
  /** Deletes finished (completed or dead) jobs last changed before `beforeMs`; answers how many went. */
  purgeFinishedJobs(beforeMs: number): Promise<number>;
}

/** A rendered report kept for a download link (the `report` job action's inbox delivery). */
export interface ReportFile {
  id: string;
  tenant: string;
  /** SHA-256 (hex) of the link's token; the token itself is never stored. */
  tokenHash: string;
  fileName: string;
  pages: number;
  pdf: Uint8Array;
  /** The job that rendered it. */
  job: string | null;
  createdMs: number;
  expiresMs: number;
}

export interface ReportFileStore {
  putReportFile(f: ReportFile): Promise<void>;
  /** The file, expired or not (the caller decides); undefined once deleted. */
  reportFile(id: string): Promise<ReportFile | undefined>;
  /** Deletes files whose link expired before `nowMs`; answers how many went. */
  deleteExpiredReportFiles(nowMs: number): Promise<number>;
}

export interface WebhookEndpoint {
  tenant: string;
  id: string;
  url: string;
  /** Signs deliveries (HMAC-SHA256); never shown again after creation. */
  secret: string;
  /** Event types (features/webhooks/webhook-events.ts): publication, connect, disconnect, read, call.missed, job.failed. */
  events: string[];
  /** For `publication`: the namespaces whose publications are sent. */
  namespaces: string[];
  /** Deliveries per second to this endpoint, per node. */
  ratePerSec: number;
  createdMs: number;
}

export type DeliveryState = "pending" | "delivered" | "dead";

export interface WebhookDelivery {
  id: string;
  tenant: string;
  endpoint: string;
  event: string;
  /** The JSON body sent. */
  body: string;
  state: DeliveryState;
  attempts: number;
  nextMs: number;
  lastError: string | null;
  lastStatus: number | null;
  createdMs: number;
  deliveredMs: number | null;
}

export interface DeliveryClaim {
  delivery: WebhookDelivery;
  lease: string;
}

export type DeliveryOutcome =
  | { type: "delivered"; status: number }
  | { type: "retry"; error: string; status: number | null; nextMs: number }
  | { type: "dead"; error: string; status: number | null }
  /** Not sent (rate limit, open breaker): due again at `nextMs`, no attempt counted. */
  | { type: "defer"; nextMs: number };

/**
 * The webhook outbox: an event is appended (one batched insert per event
 * loop turn, like chat messages) and delivered later by whichever node
 * claims it, under a lease, so nothing appended is lost across restarts.
 */
export interface WebhookOutbox {
  putEndpoint(e: WebhookEndpoint): Promise<void>;
  /** Every tenant's endpoints when `tenant` is undefined. */
  endpoints(tenant?: string): Promise<WebhookEndpoint[]>;
  removeEndpoint(tenant: string, id: string): Promise<boolean>;
  /** *Batched.* Appends deliveries (pending, due now). */
  enqueue(deliveries: readonly Pick<WebhookDelivery, "id" | "tenant" | "endpoint" | "event" | "body" | "createdMs">[]): Promise<void>;
  claimDeliveries(owner: string, limit: number, nowMs: number, leaseMs: number): Promise<DeliveryClaim[]>;
  finishDelivery(id: string, lease: string, outcome: DeliveryOutcome, nowMs: number): Promise<boolean>;
  /** Newest first. */
  deliveries(q: { tenant: string; endpoint?: string; state?: DeliveryState; limit: number }): Promise<WebhookDelivery[]>;
  /** Puts a dead (or delivered) delivery back in the queue, due now; false when there is no such delivery. */
  replay(tenant: string, id: string, nowMs: number): Promise<boolean>;
  /** Pending deliveries per endpoint (for /health). */
  pendingCounts(): Promise<Map<string, number>>;
  /**
   * Retention: deletes delivered deliveries delivered before `beforeMs` and
   * dead ones dead-lettered before it, at most `limit` rows; resolves with
   * how many went (call again while it returns `limit`). Pending ones stay.
   */
  purgeFinished(beforeMs: number, limit: number): Promise<number>;
}
