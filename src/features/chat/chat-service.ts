import type { Namespaces } from "../../config/policy.ts";
import type { PublicationInput } from "../../engine/engine.ts";
import { channelKey, type ResolvedChannel } from "../../hub/channel-policy.ts";
import { featureControl } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { Principal } from "../../hub/ports.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { ConversationSummary, MessagePage, Store, UnreadCounts } from "../../store/ports.ts";
import { encodeRead, encodeRedact, encodeStoredMessage } from "./chat-frames.ts";
import { PersistedPublish } from "./persisted-publish.ts";

/** Conversation ids are the rest of a channel name, short enough for `<namespace>:<id>` to fit 255 bytes. */
export const CONVERSATION_ID = /^[A-Za-z0-9_.:@=\-]{1,180}$/;
const DIRECT_USER = /^[A-Za-z0-9_.@=\-]{1,80}$/;

/** The stable id of the direct conversation of two users, whoever asks first. */
export function directConversationId(a: string, b: string): string {
  if (!DIRECT_USER.test(a) || !DIRECT_USER.test(b)) throw new SwitchboardError("VALIDATION_ERROR", "users: direct conversations need user ids of 1–80 of [A-Za-z0-9_.@=-]");
  if (a === b) throw new SwitchboardError("VALIDATION_ERROR", "users: a direct conversation needs two different users");
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

/** The namespace chat lives in: the one namespace whose policy sets `retention`. */
export function chatNamespace(namespaces: Namespaces): string | undefined {
  const found = Object.entries(namespaces).filter(([, p]) => p.retention !== undefined);
  if (found.length > 1) throw new Error(`only one namespace may set retention (chat); found ${found.map(([n]) => n).join(", ")}`);
  return found[0]?.[0];
}

/**
 * Chat on the hub and the record store: conversations and members, persisted
 * publications, receipts, redaction. Used by the chat frames and by the HTTP
 * routes (src/transport/http/chat-routes.ts).
 */
export class ChatService {
  private readonly retentionMs: number | null;
  private readonly publisher: PersistedPublish;

  constructor(
    private readonly hub: Hub,
    readonly store: Store,
    readonly ns: string,
  ) {
    const policy = hub.deps.policy.namespaces[ns]!;
    this.retentionMs = policy.retention === "forever" || policy.retention === undefined ? null : policy.retention * 86_400_000;
    this.publisher = new PersistedPublish(() => hub.deps.engine, store, hub.deps.logger);
  }

  channelOf(id: string): string {
    return this.ns + ":" + id;
  }

  private assertStoreUp(): void {
    const h = this.store.health();
    if (!h.up) throw new SwitchboardError("SERVICE_UNAVAILABLE", "record store unavailable; nothing was published");
  }

  /**
   * Commits the record under the offset the engine holds for it, then
   * publishes (live delivery, history); resolves with the offset after both
   * (see PersistedPublish).
   */
  async publish(key: string, c: ResolvedChannel, pub: PublicationInput): Promise<string> {
    this.assertStoreUp();
    return this.publisher.publish(key, { tenant: key.slice(0, key.indexOf("/")), conversation: c.rest, options: c.options, expiresMs: this.expiresMs }, pub);
  }

  private readonly expiresMs = (pub: PublicationInput): number | null => (this.retentionMs === null ? null : pub.ts + this.retentionMs);

  /** Creates or updates a conversation; removed members lose their live subscriptions on every node before this resolves. */
  async put(tenant: string, id: string, members: readonly string[], title: string | null): Promise<{ id: string; members: string[] }> {
    if (!CONVERSATION_ID.test(id)) throw new SwitchboardError("VALIDATION_ERROR", "id: must be 1–180 of [A-Za-z0-9_.:@=-]");
    const unique = [...new Set(members)];
    const change = await this.store.putConversation(tenant, id, { title, members: unique }, this.hub.deps.clock.now());
    if (change.removed.length > 0) await this.hub.deps.engine.control(featureControl("chat", { op: "removed", tenant, conversation: id, users: change.removed }));
    return { id, members: unique.sort() };
  }

  /** On every node: ends the removed users' subscriptions to the conversation. */
  removed(tenant: string, conversation: string, users: readonly string[]): void {
    const ch = this.channelOf(conversation);
    const key = channelKey(tenant, ch);
    for (const user of users) {
      for (const conn of this.hub.connectionsOf(tenant, user)) this.hub.endSubscription(conn, key, ch, "AUTHORIZATION_FAILED", "removed from the conversation");
    }
  }

  async conversation(tenant: string, id: string): Promise<{ id: string; title: string | null; members: string[] }> {
    const c = await this.store.conversation(tenant, id);
    if (!c) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such conversation");
    return { id: c.id, title: c.title, members: c.members };
  }

  conversationsOf(tenant: string, user: string): Promise<ConversationSummary[]> {
    return this.store.conversationsOf(tenant, user);
  }

  messages(tenant: string, id: string, before: number | undefined, limit: number): Promise<MessagePage> {
    return this.store.messagesBefore(tenant, id, before, limit, this.hub.deps.clock.now());
  }

  unread(tenant: string, user: string): Promise<UnreadCounts> {
    return this.store.unreadCounts(tenant, user, this.hub.deps.clock.now());
  }

  /** Moves `p`'s read position; the conversation's subscribers (the user's other connections too) get a `read` event. */
  async markRead(p: Principal, c: ResolvedChannel, off: number): Promise<{ off: number; unread: number; total: number }> {
    const key = channelKey(p.tenant, c.ch);
    const current = await this.hub.deps.engine.history(key, { limit: 0 }, c.options);
    if (off > Number(current.off)) throw new SwitchboardError("BAD_REQUEST", `off is ahead of ${c.ch}`);
    const now = this.hub.deps.clock.now();
    const pos = await this.store.markRead(p.tenant, c.rest, p.sub, off, now);
    const counts = await this.store.unreadCounts(p.tenant, p.sub, now);
    await this.hub.deps.engine.signal(key, encodeRead(c.ch, p.sub, pos)).catch(() => {});
    await this.hub.event(p.tenant, "read", { conversation: c.rest, user: p.sub, off: String(pos) });
    return { off: pos, unread: counts.conversations.find((x) => x.id === c.rest)?.unread ?? 0, total: counts.total };
  }

  /**
   * Drops a message's content (who and when are kept) from the store and from
   * the engine's history window, where the message is replaced by its redacted
   * form (same offset: a recovering client gets it as redacted, `recovered`
   * unchanged); subscribers get a `redact` event. Repeating it is harmless, so
   * a caller that got SERVICE_UNAVAILABLE (engine down after the store
   * commit) retries.
   */
  async redact(tenant: string, id: string, off: number, by: string): Promise<void> {
    const now = this.hub.deps.clock.now();
    if (!(await this.store.redactMessage(tenant, id, off, by, now))) throw new SwitchboardError("RESOURCE_NOT_FOUND", "no such message");
    const ch = this.channelOf(id);
    const key = channelKey(tenant, ch);
    const page = await this.store.messagesBefore(tenant, id, off + 1, 1, now);
    const m = page.messages[0];
    if (m?.off === off) await this.hub.deps.engine.replace(key, String(off), encodeStoredMessage(ch, m), this.hub.deps.policy.resolve(ch).options);
    await this.hub.deps.engine.signal(key, encodeRedact(ch, off, m?.redactedBy ?? by, m?.redactedMs ?? now)).catch(() => {});
  }
}
