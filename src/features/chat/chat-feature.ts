import type { Feature } from "../../hub/features.ts";
import type { Hub } from "../../hub/hub.ts";
import type { ResolvedChannel } from "../../hub/channel-policy.ts";
import type { Conn, Principal } from "../../hub/ports.ts";
import { encodeArray, encodeOk } from "../../protocol/encode.ts";
import { SwitchboardError } from "../../protocol/errors.ts";
import type { Store } from "../../store/ports.ts";
import { encodeStoredMessage, MessagesFrame, ReadFrame, TypingFrame, UnreadFrame, type MessagesFrame as Messages, type ReadFrame as Read } from "./chat-frames.ts";
import { ChatService } from "./chat-service.ts";
import { MembershipCache } from "./membership-cache.ts";
import { TypingSignals } from "./typing.ts";

/**
 * Chat as a hub feature: the `member` rule (membership in the record store
 * decides, not token claims), persisted publications on the chat namespace,
 * and the `typing`, `read`, `unread` and `messages` frames.
 */
export function chatFeature(hub: Hub, store: Store, ns: string): { feature: Feature; service: ChatService } {
  const service = new ChatService(hub, store, ns);
  const typing = new TypingSignals(hub, ns);
  const membership = new MembershipCache(store, () => hub.deps.clock.now());

  const chatChannel = (ch: string): ResolvedChannel => {
    const c = hub.deps.policy.resolve(ch);
    if (c.ns !== ns) throw new SwitchboardError("BAD_REQUEST", `${ch} is not a ${ns}: channel`);
    return c;
  };
  const allowed = async (p: Principal, c: ResolvedChannel) => {
    const check = hub.deps.policy.checkSubscribe(p, c);
    if (check) await check;
  };
  const audit = (event: string, conn: Conn, p: Principal, fields: Record<string, unknown>) => {
    if (hub.deps.logger.auditing) hub.deps.logger.audit(event, { conn: hub.connId(conn), user: p.sub, tenant: p.tenant, ...fields });
  };

  const feature: Feature = {
    name: "chat",
    rules: {
      member: (p, c) => membership.isMember(p.tenant, c.rest, p.sub),
    },
    channels: {
      claims: (policy) => policy === hub.deps.policy.namespaces[ns],
      publish: (key, c, pub) => service.publish(key, c, pub),
    },
    frames: {
      typing: { schema: TypingFrame, budget: "own", handle: (conn, p, f: TypingFrame) => typing.handle(conn, p, f) },
      read: {
        schema: ReadFrame,
        budget: "shared",
        async handle(conn, p, f: Read) {
          const c = chatChannel(f.ch);
          await allowed(p, c);
          const r = await service.markRead(p, c, Number(f.off));
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { off: String(r.off), unread: r.unread, total: r.total }));
          audit("chat_read", conn, p, { ch: f.ch, off: r.off });
        },
      },
      unread: {
        schema: UnreadFrame,
        budget: "shared",
        async handle(conn, p, f: UnreadFrame) {
          const counts = await service.unread(p.tenant, p.sub);
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { conversations: counts.conversations, total: counts.total }));
          audit("chat_unread", conn, p, {});
        },
      },
      messages: {
        schema: MessagesFrame,
        budget: "shared",
        async handle(conn, p, f: Messages) {
          const c = chatChannel(f.ch);
          await allowed(p, c);
          const page = await service.messages(p.tenant, c.rest, f.before === undefined ? undefined : Number(f.before), f.limit ?? 50);
          const frames = page.messages.map((m) => encodeStoredMessage(f.ch, m));
          if (!conn.data.closing) hub.send(conn, encodeOk(f.id, { more: page.more }, { messages: encodeArray(frames) }));
          audit("chat_messages", conn, p, { ch: f.ch, count: frames.length });
        },
      },
    },
    control(body) {
      if (body.op === "removed" && typeof body.tenant === "string" && typeof body.conversation === "string" && Array.isArray(body.users)) {
        membership.forget(body.tenant, body.conversation, body.users as string[]);
        service.removed(body.tenant, body.conversation, body.users as string[]);
      }
    },
  };
  return { feature, service };
}
