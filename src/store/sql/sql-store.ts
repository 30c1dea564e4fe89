import { MIGRATIONS } from "../migrations.ts";
import type {
  ChatMessage,
  Conversation,
  ConversationInput,
  ConversationSummary,
  MembershipChange,
  MessagePage,
  Notification,
  NotificationInput,
  NotificationPriority,
  CallStore,
  Store,
  StatusRecord,
  StoreHealth,
  UnreadCounts,
  UserStatus,
} from "../ports.ts";
import { StoreAvailability } from "./availability.ts";
import { SqlCallStore } from "./sql-call-store.ts";
import { SqlJobQueue } from "./job-queue.ts";
import { SqlReportFiles } from "./report-files.ts";
import { SqlWebhookOutbox } from "./webhook-outbox.ts";
import type { SqlDriver, SqlStatement, SqlValue } from "./driver.ts";
import { WriteQueue } from "./write-queue.ts";
import { putMessageStatements } from "./message-statements.ts";

export interface SqlStoreOptions {
  /** A statement or commit slower than this fails with SERVICE_UNAVAILABLE. */
  timeoutMs: number;
  /** Ping interval while running; 0 = none (an embedded file cannot go away). */
  heartbeatMs: number;
}

interface MessageRow {
  conversation?: string;
  off: number | string;
  ev: string;
  data: string;
  sender: string | null;
  ts: number | string;
  redacted_by: string | null;
  redacted_ms: number | string | null;
}

interface NotificationRow {
  id: string;
  type: string;
  title: string;
  body: string | null;
  data: string | null;
  priority: string;
  created_ms: number | string;
  read_ms: number | string | null;
}

const MESSAGE_COLUMNS = "off, ev, data, sender, ts, redacted_by, redacted_ms";
const NOTIFICATION_COLUMNS = "id, type, title, body, data, priority, created_ms, read_ms";
const LIVE_MESSAGE = "(m.expires_ms IS NULL OR m.expires_ms > ?)";
/** A member's unread count: messages after the position, from someone else, not redacted, not expired. */
const UNREAD_OF_MEMBER = `(SELECT count(*) FROM chat_messages m WHERE m.tenant = mem.tenant AND m.conversation = mem.conversation
  AND m.off > coalesce(r.off, 0) AND m.redacted_ms IS NULL AND (m.sender IS NULL OR m.sender <> mem.user_id) AND ${LIVE_MESSAGE})`;
const MEMBER_READS = `conversation_members mem LEFT JOIN read_positions r
  ON r.tenant = mem.tenant AND r.conversation = mem.conversation AND r.user_id = mem.user_id`;

/** Ids that sort like creation time: ms, a counter and a random tail, all base 36 and fixed width. */
let idCounter = 0;
function notificationId(nowMs: number): string {
  idCounter = (idCounter + 1) % 1_679_616;
  return nowMs.toString(36).padStart(9, "0") + idCounter.toString(36).padStart(4, "0") + Math.floor(Math.random() * 1_679_616).toString(36).padStart(4, "0");
}

const placeholders = (n: number) => Array.from({ length: n }, () => "?").join(", ");
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toMessage(r: MessageRow): ChatMessage {
  const m: ChatMessage = { off: Number(r.off), ev: r.ev, data: r.data, from: r.sender, ts: Number(r.ts) };
  if (r.redacted_by !== null) {
    m.redactedBy = r.redacted_by;
    m.redactedMs = Number(r.redacted_ms);
  }
  return m;
}

function toNotification(r: NotificationRow): Notification {
  return {
    id: r.id,
    type: r.type,
    title: r.title,
    body: r.body,
    data: r.data,
    priority: r.priority as NotificationPriority,
    createdMs: Number(r.created_ms),
    readMs: num(r.read_ms),
  };
}

/** The store port on any SqlDriver: every query is written once, for both databases. */
export class SqlStore implements Store {
  readonly kind: "sqlite" | "postgres";
  private readonly availability: StoreAvailability;
  private readonly queue: WriteQueue;
  readonly calls: CallStore;
  private schema = 0;
  readonly jobs: SqlJobQueue;
  readonly webhooks: SqlWebhookOutbox;
  readonly reportFiles: SqlReportFiles;

  constructor(
    private readonly driver: SqlDriver,
    opts: SqlStoreOptions,
  ) {
    this.kind = driver.kind;
    this.availability = new StoreAvailability(driver, opts.timeoutMs, opts.heartbeatMs);
    this.queue = new WriteQueue((statements) => this.driver.transaction(statements));
    this.calls = new SqlCallStore({ driver, availability: this.availability, queue: this.queue });
    this.jobs = new SqlJobQueue(driver, this.availability);
    this.webhooks = new SqlWebhookOutbox(driver, this.availability, (statements) => this.queue.push(statements));
    this.reportFiles = new SqlReportFiles(driver, this.availability);
  }

  async start(): Promise<void> {
    try {
      this.schema = await this.driver.open(MIGRATIONS);
    } catch (err) {
      await this.driver.close().catch(() => {});
      throw err;
    }
    this.availability.set(true, "ready");
    this.availability.watch();
  }

  async stop(): Promise<void> {
    this.availability.stop();
    await this.queue.drain().catch(() => {});
    await this.driver.close();
    this.availability.set(false, "stopped");
  }

  health(): StoreHealth {
    return { up: this.availability.up, detail: `${this.driver.describe()}: ${this.availability.reason}`, schema: this.schema };
  }

  onAvailability(listener: (up: boolean, reason: string) => void): void {
    this.availability.onChange(listener);
  }

  private read<T>(sql: string, params: SqlValue[]): Promise<T[]> {
    return this.availability.guard(this.driver.query<T>(sql, params));
  }

  /** A batched write: refused at once while the database is down. */
  private async write(statements: SqlStatement[]): Promise<void> {
    this.availability.assertUp();
    return this.availability.guard(this.queue.push(statements));
  }

  /** A write that commits on its own (rare, not on a hot path). */
  private async writeNow(statements: SqlStatement[]): Promise<void> {
    this.availability.assertUp();
    return this.availability.guard(this.driver.transaction(statements));
  }

  // --- conversations ---

  async putConversation(tenant: string, id: string, input: ConversationInput, nowMs: number): Promise<MembershipChange> {
    const before = new Set((await this.read<{ user_id: string }>("SELECT user_id FROM conversation_members WHERE tenant = ? AND conversation = ?", [tenant, id])).map((r) => r.user_id));
    const after = new Set(input.members);
    const added = [...after].filter((u) => !before.has(u));
    const removed = [...before].filter((u) => !after.has(u));
    const statements: SqlStatement[] = [
      {
        sql: "INSERT INTO conversations (tenant, id, title, created_ms, active_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, id) DO UPDATE SET title = excluded.title",
        params: [tenant, id, input.title, nowMs, nowMs],
      },
    ];
    for (const u of removed) statements.push({ sql: "DELETE FROM conversation_members WHERE tenant = ? AND conversation = ? AND user_id = ?", params: [tenant, id, u] });
    for (const u of added) {
      statements.push({ sql: "INSERT INTO conversation_members (tenant, conversation, user_id, added_ms) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", params: [tenant, id, u, nowMs] });
    }
    await this.writeNow(statements);
    return { added, removed };
  }

  async conversation(tenant: string, id: string): Promise<Conversation | undefined> {
    const rows = await this.read<{ title: string | null; created_ms: number | string }>("SELECT title, created_ms FROM conversations WHERE tenant = ? AND id = ?", [tenant, id]);
    if (rows.length === 0) return undefined;
    const members = await this.read<{ user_id: string }>("SELECT user_id FROM conversation_members WHERE tenant = ? AND conversation = ? ORDER BY user_id", [tenant, id]);
    return { id, title: rows[0]!.title, members: members.map((m) => m.user_id), createdMs: Number(rows[0]!.created_ms) };
  }

  async isMember(tenant: string, id: string, user: string): Promise<boolean> {
    const rows = await this.read("SELECT 1 AS x FROM conversation_members WHERE tenant = ? AND conversation = ? AND user_id = ?", [tenant, id, user]);
    return rows.length > 0;
  }

  async conversationsOf(tenant: string, user: string): Promise<ConversationSummary[]> {
    const nowMs = Date.now();
    const rows = await this.read<{ id: string; title: string | null; unread: number | string }>(
      `SELECT c.id, c.title, ${UNREAD_OF_MEMBER} AS unread
       FROM ${MEMBER_READS} JOIN conversations c ON c.tenant = mem.tenant AND c.id = mem.conversation
       WHERE mem.tenant = ? AND mem.user_id = ? ORDER BY c.active_ms DESC, c.id LIMIT 1000`,
      [nowMs, tenant, user],
    );
    const last = await this.read<MessageRow>(
      `SELECT m.conversation, ${MESSAGE_COLUMNS.split(", ").map((c) => "m." + c).join(", ")} FROM chat_messages m
       WHERE m.tenant = ? AND m.conversation IN (SELECT conversation FROM conversation_members WHERE tenant = ? AND user_id = ?)
       AND m.off = (SELECT max(x.off) FROM chat_messages x WHERE x.tenant = m.tenant AND x.conversation = m.conversation AND (x.expires_ms IS NULL OR x.expires_ms > ?))`,
      [tenant, tenant, user, nowMs],
    );
    const lastOf = new Map(last.map((r) => [r.conversation!, toMessage(r)]));
    return rows.map((r) => ({ id: r.id, title: r.title, lastMessage: lastOf.get(r.id) ?? null, unread: Number(r.unread) }));
  }

  // --- messages ---

  appendMessage(tenant: string, conversation: string, msg: ChatMessage, expiresMs: number | null): Promise<void> {
    return this.write([
      {
        sql: "INSERT INTO chat_messages (tenant, conversation, off, ev, data, sender, ts, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        params: [tenant, conversation, msg.off, msg.ev, msg.data, msg.from, msg.ts, expiresMs],
        merge: "INSERT INTO chat_messages (tenant, conversation, off, ev, data, sender, ts, expires_ms)",
        mergeTail: "ON CONFLICT DO NOTHING",
      },
      {
        sql: "UPDATE conversations SET active_ms = ? WHERE tenant = ? AND id = ? AND active_ms < ?",
        params: [msg.ts, tenant, conversation, msg.ts],
        last: "active\u0000" + tenant + "\u0000" + conversation,
      },
    ]);
  }

  putMessage(tenant: string, conversation: string, msg: ChatMessage, expiresMs: number | null): Promise<void> {
    return this.write(putMessageStatements(tenant, conversation, msg, expiresMs));
  }

  async deleteMessages(tenant: string, conversation: string, offs: readonly number[]): Promise<void> {
    if (offs.length === 0) return;
    await this.write([{ sql: `DELETE FROM chat_messages WHERE tenant = ? AND conversation = ? AND off IN (${placeholders(offs.length)})`, params: [tenant, conversation, ...offs] }]);
  }

  async messagesBefore(tenant: string, conversation: string, before: number | undefined, limit: number, nowMs: number): Promise<MessagePage> {
    const rows = await this.read<MessageRow>(
      `SELECT ${MESSAGE_COLUMNS} FROM chat_messages m WHERE m.tenant = ? AND m.conversation = ? AND m.off < ? AND ${LIVE_MESSAGE} ORDER BY m.off DESC LIMIT ?`,
      [tenant, conversation, before ?? Number.MAX_SAFE_INTEGER, nowMs, limit + 1],
    );
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(toMessage), more };
  }

  async redactMessage(tenant: string, conversation: string, off: number, by: string, nowMs: number): Promise<boolean> {
    this.availability.assertUp();
    const n = await this.availability.guard(
      this.driver.run("UPDATE chat_messages SET data = 'null', redacted_by = ?, redacted_ms = ? WHERE tenant = ? AND conversation = ? AND off = ?", [by, nowMs, tenant, conversation, off]),
    );
    return n > 0;
  }

  // --- read positions ---

  async markRead(tenant: string, conversation: string, user: string, off: number, nowMs: number): Promise<number> {
    await this.write([
      {
        sql: `INSERT INTO read_positions (tenant, conversation, user_id, off, updated_ms) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (tenant, conversation, user_id) DO UPDATE SET
              off = CASE WHEN excluded.off > read_positions.off THEN excluded.off ELSE read_positions.off END, updated_ms = excluded.updated_ms`,
        params: [tenant, conversation, user, off, nowMs],
      },
    ]);
    const rows = await this.read<{ off: number | string }>("SELECT off FROM read_positions WHERE tenant = ? AND conversation = ? AND user_id = ?", [tenant, conversation, user]);
    return Number(rows[0]?.off ?? off);
  }

  async readPositions(tenant: string, conversation: string): Promise<{ user: string; off: number }[]> {
    const rows = await this.read<{ user_id: string; off: number | string }>("SELECT user_id, off FROM read_positions WHERE tenant = ? AND conversation = ? ORDER BY user_id", [tenant, conversation]);
    return rows.map((r) => ({ user: r.user_id, off: Number(r.off) }));
  }

  async unreadCounts(tenant: string, user: string, nowMs: number): Promise<UnreadCounts> {
    const rows = await this.read<{ conversation: string; unread: number | string }>(
      `SELECT mem.conversation, ${UNREAD_OF_MEMBER} AS unread FROM ${MEMBER_READS} WHERE mem.tenant = ? AND mem.user_id = ? ORDER BY mem.conversation LIMIT 1000`,
      [nowMs, tenant, user],
    );
    const conversations = rows.map((r) => ({ id: r.conversation, unread: Number(r.unread) }));
    return { conversations, total: conversations.reduce((s, c) => s + c.unread, 0) };
  }

  // --- notifications ---

  async addNotifications(tenant: string, users: readonly string[], n: NotificationInput, nowMs: number, expiresMs: number | null): Promise<Notification[]> {
    const out: Notification[] = [];
    const statements: SqlStatement[] = [];
    for (const user of users) {
      const id = notificationId(nowMs);
      out.push({ ...n, id, createdMs: nowMs, readMs: null });
      statements.push({
        sql: `INSERT INTO notifications (tenant, user_id, ${NOTIFICATION_COLUMNS}, expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
        params: [tenant, user, id, n.type, n.title, n.body, n.data, n.priority, nowMs, expiresMs],
      });
    }
    await this.write(statements);
    return out;
  }

  async notifications(tenant: string, user: string, q: { unreadOnly: boolean; limit: number; before?: string }, nowMs: number): Promise<Notification[]> {
    const params: SqlValue[] = [tenant, user, nowMs];
    let sql = `SELECT ${NOTIFICATION_COLUMNS} FROM notifications WHERE tenant = ? AND user_id = ? AND (expires_ms IS NULL OR expires_ms > ?)`;
    if (q.unreadOnly) sql += " AND read_ms IS NULL";
    if (q.before !== undefined) {
      sql += " AND id < ?";
      params.push(q.before);
    }
    params.push(q.limit);
    return (await this.read<NotificationRow>(sql + " ORDER BY id DESC LIMIT ?", params)).map(toNotification);
  }

  async markNotificationsRead(tenant: string, user: string, ids: readonly string[] | undefined, nowMs: number): Promise<number> {
    let sql = "UPDATE notifications SET read_ms = ? WHERE tenant = ? AND user_id = ? AND read_ms IS NULL";
    const params: SqlValue[] = [nowMs, tenant, user];
    if (ids !== undefined) {
      if (ids.length === 0) return this.unreadNotifications(tenant, user, nowMs);
      sql += ` AND id IN (${placeholders(ids.length)})`;
      params.push(...ids);
    }
    await this.writeNow([{ sql, params }]);
    return this.unreadNotifications(tenant, user, nowMs);
  }

  async unreadNotifications(tenant: string, user: string, nowMs: number): Promise<number> {
    const rows = await this.read<{ n: number | string }>(
      "SELECT count(*) AS n FROM notifications WHERE tenant = ? AND user_id = ? AND read_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?)",
      [tenant, user, nowMs],
    );
    return Number(rows[0]?.n ?? 0);
  }

  // --- last seen ---

  setLastSeen(tenant: string, user: string, atMs: number): Promise<void> {
    return this.write([
      {
        sql: `INSERT INTO last_seen (tenant, user_id, seen_ms) VALUES (?, ?, ?) ON CONFLICT (tenant, user_id) DO UPDATE SET
              seen_ms = CASE WHEN excluded.seen_ms > last_seen.seen_ms THEN excluded.seen_ms ELSE last_seen.seen_ms END`,
        params: [tenant, user, atMs],
      },
    ]);
  }

  async lastSeen(tenant: string, users: readonly string[]): Promise<Map<string, number>> {
    if (users.length === 0) return new Map();
    const rows = await this.read<{ user_id: string; seen_ms: number | string }>(`SELECT user_id, seen_ms FROM last_seen WHERE tenant = ? AND user_id IN (${placeholders(users.length)})`, [
      tenant,
      ...users,
    ]);
    return new Map(rows.map((r) => [r.user_id, Number(r.seen_ms)]));
  }

  // --- status ---

  setStatus(tenant: string, user: string, status: UserStatus, text: string | null, nowMs: number): Promise<void> {
    return this.write([
      {
        sql: `INSERT INTO user_status (tenant, user_id, status, text, updated_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, user_id) DO UPDATE SET
              status = excluded.status, text = excluded.text, updated_ms = excluded.updated_ms`,
        params: [tenant, user, status, text, nowMs],
      },
    ]);
  }

  clearStatus(tenant: string, user: string): Promise<void> {
    return this.write([{ sql: "DELETE FROM user_status WHERE tenant = ? AND user_id = ?", params: [tenant, user] }]);
  }

  async statuses(tenant: string, users: readonly string[]): Promise<Map<string, StatusRecord>> {
    if (users.length === 0) return new Map();
    const rows = await this.read<{ user_id: string; status: string; text: string | null; updated_ms: number | string }>(
      `SELECT user_id, status, text, updated_ms FROM user_status WHERE tenant = ? AND user_id IN (${placeholders(users.length)})`,
      [tenant, ...users],
    );
    return new Map(rows.map((r) => [r.user_id, { status: r.status as UserStatus, text: r.text, updatedMs: Number(r.updated_ms) }]));
  }

  async trim(nowMs: number): Promise<number> {
    if (!this.availability.up) return 0;
    const a = await this.availability.guard(this.driver.run("DELETE FROM chat_messages WHERE expires_ms IS NOT NULL AND expires_ms < ?", [nowMs]));
    const b = await this.availability.guard(this.driver.run("DELETE FROM notifications WHERE expires_ms IS NOT NULL AND expires_ms < ?", [nowMs]));
    return a + b;
  }
}
