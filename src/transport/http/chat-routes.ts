import { Hono } from "hono";
import * as v from "valibot";
import type { ChatService } from "../../features/chat/chat-service.ts";
import { directConversationId } from "../../features/chat/chat-service.ts";
import { encodeStoredMessage } from "../../features/chat/chat-frames.ts";
import type { Logger } from "../../observability/logger.ts";
import type { ChatMessage } from "../../store/ports.ts";
import { readJson } from "./errors.ts";
import { intParam, onlyQuery, parseBody, tenantOf, UserId } from "./body.ts";

const Members = v.pipe(v.array(UserId, "must be an array"), v.minLength(1, "must not be empty"), v.maxLength(1000, "at most 1000 members"));
const Title = v.optional(v.nullable(v.pipe(v.string("must be a string"), v.maxLength(200, "at most 200 characters"))));
const PutConversation = v.strictObject({ tenant: v.optional(v.string("must be a string")), members: Members, title: Title });
const PutDirect = v.strictObject({ tenant: v.optional(v.string("must be a string")), users: v.pipe(v.array(UserId, "must be an array"), v.length(2, "must name exactly two users")), title: Title });
const Redact = v.strictObject({ tenant: v.optional(v.string("must be a string")), by: UserId });

type Env = { Variables: { apiKey: number } };

/** Chat's server HTTP API (README "Chat"; src/protocol/README.md "Features"). */
export function chatRoutes(chat: ChatService, logger: Logger): Hono<Env> {
  const r = new Hono<Env>();
  const json = (ch: string, m: ChatMessage | null) => (m === null ? null : JSON.parse(encodeStoredMessage(ch, m)));

  r.put("/conversations/:id", async (c) => {
    const b = parseBody(PutConversation, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const res = await chat.put(tenant, c.req.param("id"), b.members, b.title ?? null);
    logger.audit("api_conversation_put", { key: c.get("apiKey"), tenant, conversation: res.id, members: res.members.length });
    return c.json(res);
  });

  r.put("/direct-conversations", async (c) => {
    const b = parseBody(PutDirect, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const res = await chat.put(tenant, directConversationId(b.users[0]!, b.users[1]!), b.users, b.title ?? null);
    logger.audit("api_conversation_put", { key: c.get("apiKey"), tenant, conversation: res.id, members: 2 });
    return c.json(res);
  });

  r.get("/conversations/:id", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const res = await chat.conversation(tenant, c.req.param("id"));
    logger.audit("api_conversation_get", { key: c.get("apiKey"), tenant, conversation: res.id });
    return c.json(res);
  });

  r.get("/conversations/:id/messages", async (c) => {
    onlyQuery(c.req.query(), ["tenant", "before", "limit"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const id = c.req.param("id");
    const before = intParam("before", c.req.query("before"), 1, Number.MAX_SAFE_INTEGER, undefined);
    const limit = intParam("limit", c.req.query("limit"), 1, 100, 50)!;
    const page = await chat.messages(tenant, id, before, limit);
    logger.audit("api_conversation_messages", { key: c.get("apiKey"), tenant, conversation: id, count: page.messages.length });
    return c.json({ messages: page.messages.map((m) => json(chat.channelOf(id), m)), more: page.more });
  });

  r.post("/conversations/:id/messages/:off/redact", async (c) => {
    const b = parseBody(Redact, await readJson(c));
    const tenant = tenantOf(b.tenant);
    const id = c.req.param("id");
    const off = intParam("off", c.req.param("off"), 1, Number.MAX_SAFE_INTEGER, undefined)!;
    await chat.redact(tenant, id, off, b.by);
    logger.audit("api_message_redact", { key: c.get("apiKey"), tenant, conversation: id, off, by: b.by });
    return c.json({ redacted: true });
  });

  r.get("/users/:user/conversations", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const user = c.req.param("user");
    const list = await chat.conversationsOf(tenant, user);
    logger.audit("api_user_conversations", { key: c.get("apiKey"), tenant, user, count: list.length });
    return c.json({
      conversations: list.map((x) => ({ id: x.id, title: x.title, lastMessage: json(chat.channelOf(x.id), x.lastMessage), unread: x.unread })),
      unread: list.reduce((s, x) => s + x.unread, 0),
    });
  });

  r.get("/users/:user/unread", async (c) => {
    onlyQuery(c.req.query(), ["tenant"]);
    const tenant = tenantOf(c.req.query("tenant"));
    const counts = await chat.unread(tenant, c.req.param("user"));
    logger.audit("api_user_unread", { key: c.get("apiKey"), tenant, user: c.req.param("user") });
    return c.json(counts);
  });

  return r;
}
