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
 * (call records, jobs, a webhook outbox) is a new interface in a records file re-exported from here, a numbered
 * migration in migrations.ts and its queries in SqlStore.
 */

import type { CallStore } from "./call-records.ts";
import type { JobStore } from "./job-records.ts";
import type { ReportFileStore, WebhookOutbox } from "./webhook-records.ts";

export * from "./call-records.ts";
export * from "./job-records.ts";
export * from "./webhook-records.ts";

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
