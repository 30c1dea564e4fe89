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

export type CallState = "ringing" | "live" | "ended";
export type CallOutcome = "answered" | "missed" | "rejected" | "cancelled" | "failed";
export type ParticipantState = "ringing" | "joined" | "away" | "left" | "rejected" | "missed" | "cancelled";

/** One user in a call; `conn` is the cluster-wide id of the device bound to the call (signalling goes there only). */
export interface CallParticipant {
  user: string;
  role: "caller" | "invitee";
  state: ParticipantState;
  conn: string | null;
  joinedMs: number | null;
  leftMs: number | null;
  /** While `away`: when the participant is marked left unless a device rejoins. */
  graceUntilMs: number | null;
}

/** Aggregates of the quality samples clients reported (sums for means, extremes). */
export interface CallQuality {
  samples: number;
  rttMsSum: number;
  rttMsMax: number;
  jitterMsSum: number;
  jitterMsMax: number;
  lossPctSum: number;
  lossPctMax: number;
  bitrateKbpsSum: number;
  bitrateKbpsMin: number | null;
}

export interface CallQualitySample {
  rttMs: number;
  jitterMs: number;
  lossPct: number;
  bitrateKbps: number;
}

export interface CallRecord {
  id: string;
  caller: string;
  media: "audio" | "video";
  /** JSON text (e.g. a visit id), or null. */
  context: string | null;
  state: CallState;
  outcome: CallOutcome | null;
  participants: CallParticipant[];
  createdMs: number;
  ringDeadlineMs: number;
  answeredMs: number | null;
  endedMs: number | null;
  endedBy: string | null;
  endReason: string | null;
  /** Bumped by every stored change: `replaceCall` writes only over the version it read. */
  version: number;
}

export interface CallStore {
  /** Stores a new call (version 1) and indexes it under each participant. */
  createCall(tenant: string, call: CallRecord): Promise<void>;
  /** Undefined when the tenant has no such call. */
  call(tenant: string, id: string): Promise<CallRecord | undefined>;
  /**
   * Writes `call` (with version `expectedVersion + 1`) only when the stored
   * version is still `expectedVersion`: one conditional UPDATE, so of several
   * nodes racing on one transition exactly one gets true.
   */
  replaceCall(tenant: string, call: CallRecord, expectedVersion: number, nextDeadlineMs: number | null): Promise<boolean>;
  /** *Batched.* Adds one sample to the call's quality aggregates. */
  addCallQuality(tenant: string, id: string, sample: CallQualitySample): Promise<void>;
  callQuality(tenant: string, id: string): Promise<CallQuality | undefined>;
  /** The user's calls, newest first. */
  callsOf(tenant: string, user: string, limit: number): Promise<CallRecord[]>;
  /** Calls not ended whose next deadline (ring timeout, grace) is at or before `nowMs`. */
  dueCalls(nowMs: number, limit: number): Promise<{ tenant: string; id: string }[]>;
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
